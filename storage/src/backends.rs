//! SQL both dialects share (the keyed tables: ledger, subscriptions, peers, channels, meta use
//! only `$n` parameters, BIGINT and TEXT, `ON CONFLICT … DO UPDATE`, `CAST`), written once and
//! compiled once per backend.

/// Expands the items twice: in `mod sqlite` and in `mod pg`. In each, `Conn` is that
/// backend's connection, `Repo` its read side, and `backend::…` its instance of every store
/// module ([`sqlite_parts`], [`pg_parts`]). Each adapter calls its own instance.
macro_rules! for_each_backend {
    ($($item:item)*) => {
        /// This module's SQL on SQLite.
        pub(crate) mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use crate::backends::sqlite_parts as backend;
            #[allow(dead_code)]
            type Conn = sqlx::sqlite::SqliteConnection;
            #[allow(dead_code)]
            type Repo = crate::sqlite::SqliteRepo;
            $($item)*
        }
        /// This module's SQL on PostgreSQL.
        pub(crate) mod pg {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use crate::backends::pg_parts as backend;
            #[allow(dead_code)]
            type Conn = sqlx::postgres::PgConnection;
            #[allow(dead_code)]
            type Repo = crate::pg::PgRepo;
            $($item)*
        }
    };
}
pub(crate) use for_each_backend;

/// The SQLite instance of each store module.
pub(crate) mod sqlite_parts {
    pub(crate) use crate::channels::sqlite as channels;
    pub(crate) use crate::events;
    pub(crate) use crate::ledger::sqlite as ledger;
    pub(crate) use crate::tables::sqlite as tables;
}

/// The PostgreSQL instance of each store module.
pub(crate) mod pg_parts {
    pub(crate) use crate::channels::pg as channels;
    pub(crate) use crate::ledger::pg as ledger;
    pub(crate) use crate::pg::events;
    pub(crate) use crate::tables::pg as tables;
}
