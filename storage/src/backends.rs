//! SQL both dialects share (the keyed tables: ledger, subscriptions, peers, channels, meta use
//! only `$n` parameters, BIGINT and TEXT, `ON CONFLICT … DO UPDATE`, `CAST`), written once and
//! compiled once per backend.

/// Expands the items twice: in `mod sqlite`, where `Conn` is a SQLite connection, and in
/// `mod pg`, where it is a PostgreSQL one. Each backend's adapter calls its own instance.
macro_rules! for_each_backend {
    ($($item:item)*) => {
        /// This module's SQL on SQLite.
        pub(crate) mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            type Conn = sqlx::sqlite::SqliteConnection;
            $($item)*
        }
        /// This module's SQL on PostgreSQL.
        pub(crate) mod pg {
            #[allow(unused_imports)]
            use super::*;
            type Conn = sqlx::postgres::PgConnection;
            $($item)*
        }
    };
}
pub(crate) use for_each_backend;
