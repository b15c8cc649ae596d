//! The one error type of this crate.

/// Everything that can go wrong in [`crate::Storage`] and [`crate::WriterHandle`].
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database driver reported an error (I/O, SQL, constraint, busy, ...).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// Applying the schema migrations failed when opening the database.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// A JSON column could not be encoded or decoded.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),

    /// The writer task has stopped (closed, or it panicked): nothing more can be written.
    #[error("the storage writer has stopped")]
    WriterGone,

    /// The whole group-commit batch this submission rode in failed (BEGIN, SAVEPOINT or COMMIT
    /// error): nothing of it was committed. `reason` is the driver's message.
    #[error("write batch failed, nothing committed: {reason}")]
    BatchFailed {
        /// The underlying error, as text (one failure is reported to every submitter).
        reason: String,
    },

    /// A ledger entry names an existing account with another asset code or scale.
    #[error("ledger entry for account {account} is in {entry_code}/{entry_scale}, account is {account_code}/{account_scale}")]
    AssetMismatch {
        /// Account id.
        account: String,
        /// Asset code stored on the account.
        account_code: String,
        /// Asset scale stored on the account.
        account_scale: u8,
        /// Asset code of the rejected entry.
        entry_code: String,
        /// Asset scale of the rejected entry.
        entry_scale: u8,
    },

    /// Applying a ledger delta would overflow the account's i64 balance.
    #[error("balance of account {account} would overflow")]
    BalanceOverflow {
        /// Account id.
        account: String,
    },

    /// An unsigned value does not fit the signed 64-bit column that stores it (> i64::MAX).
    #[error("{field} = {value} is out of the storable range (max i64::MAX)")]
    OutOfRange {
        /// Which field.
        field: &'static str,
        /// The offending value.
        value: u64,
    },

    /// A database URL whose scheme is neither `postgres`/`postgresql` nor `sqlite`.
    #[error("unsupported database URL scheme {0:?}: use postgres://… or sqlite://…")]
    UnsupportedUrl(String),

    /// `db export` / `db import` / `db backup`: a bad line, a non-empty target, an I/O error.
    #[error("transfer: {0}")]
    Transfer(String),

    /// A stored row could not be turned back into its Rust type (should not happen unless
    /// the database was edited by hand).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

/// Convert an unsigned value to the i64 a BIGINT column stores.
pub(crate) fn to_i64(field: &'static str, value: u64) -> Result<i64, StorageError> {
    i64::try_from(value).map_err(|_| StorageError::OutOfRange { field, value })
}

/// Convert a stored BIGINT back to the unsigned value it was written from.
pub(crate) fn to_u64(field: &'static str, value: i64) -> Result<u64, StorageError> {
    u64::try_from(value).map_err(|_| StorageError::Corrupt(format!("{field} = {value} is negative")))
}

/// Convert a stored BIGINT back to an asset scale.
pub(crate) fn to_u8(field: &'static str, value: i64) -> Result<u8, StorageError> {
    u8::try_from(value).map_err(|_| StorageError::Corrupt(format!("{field} = {value} is not a u8")))
}
