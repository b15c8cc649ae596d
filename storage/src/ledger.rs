//! Accounts and the idempotent balance journal.

use crate::error::{to_i64, to_u64, to_u8};
use crate::{Account, LedgerEntry, LedgerOutcome, StorageError};

crate::backends::for_each_backend! {
    /// Apply [`crate::Op::Ledger`] inside the writer's open transaction.
    pub(crate) async fn apply(conn: &mut Conn, e: &LedgerEntry) -> Result<LedgerOutcome, StorageError> {
        let created_at = to_i64("created_at", e.created_at)?;
        let account: Option<(String, i64, i64, i64)> =
            sqlx::query_as("SELECT asset_code, asset_scale, balance, updated_at FROM accounts WHERE id = $1")
                .bind(&e.account)
                .fetch_optional(&mut *conn)
                .await?;

        let seen: Option<i64> = sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM ledger_entries WHERE account = $1 AND reference = $2")
            .bind(&e.account)
            .bind(&e.reference)
            .fetch_optional(&mut *conn)
            .await?;
        if seen.is_some() {
            let balance = account.map_or(0, |a| a.2);
            return Ok(LedgerOutcome::Duplicate { balance });
        }

        let (balance, updated_at) = match account {
            None => {
                sqlx::query(
                    "INSERT INTO accounts (id, asset_code, asset_scale, balance, updated_at) \
                     VALUES ($1, $2, $3, 0, $4)",
                )
                .bind(&e.account)
                .bind(&e.asset_code)
                .bind(i64::from(e.asset_scale))
                .bind(created_at)
                .execute(&mut *conn)
                .await?;
                (0, created_at)
            }
            Some((code, scale, balance, updated_at)) => {
                let scale = to_u8("asset_scale", scale)?;
                if code != e.asset_code || scale != e.asset_scale {
                    return Err(StorageError::AssetMismatch {
                        account: e.account.clone(),
                        account_code: code,
                        account_scale: scale,
                        entry_code: e.asset_code.clone(),
                        entry_scale: e.asset_scale,
                    });
                }
                (balance, updated_at.max(created_at))
            }
        };
        let new_balance =
            balance.checked_add(e.delta).ok_or_else(|| StorageError::BalanceOverflow { account: e.account.clone() })?;

        sqlx::query(
            "INSERT INTO ledger_entries \
             (account, asset_code, asset_scale, delta, reference, memo, created_at, balance_after) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&e.account)
        .bind(&e.asset_code)
        .bind(i64::from(e.asset_scale))
        .bind(e.delta)
        .bind(&e.reference)
        .bind(&e.memo)
        .bind(created_at)
        .bind(new_balance)
        .execute(&mut *conn)
        .await?;
        sqlx::query("UPDATE accounts SET balance = $1, updated_at = $2 WHERE id = $3")
            .bind(new_balance)
            .bind(updated_at)
            .bind(&e.account)
            .execute(&mut *conn)
            .await?;
        Ok(LedgerOutcome::Applied { balance: new_balance })
    }

    type AccountRow = (String, String, i64, i64, i64);

    fn account_from_row((id, asset_code, scale, balance, updated_at): AccountRow) -> Result<Account, StorageError> {
        Ok(Account {
            id,
            asset_code,
            asset_scale: to_u8("asset_scale", scale)?,
            balance,
            updated_at: to_u64("updated_at", updated_at)?,
        })
    }

    const ACCOUNT_COLUMNS: &str = "SELECT id, asset_code, asset_scale, balance, updated_at FROM accounts";

    /// All accounts, by id.
    pub(crate) async fn accounts(conn: &mut Conn) -> Result<Vec<Account>, StorageError> {
        let rows: Vec<AccountRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{ACCOUNT_COLUMNS} ORDER BY id"))).fetch_all(&mut *conn).await?;
        rows.into_iter().map(account_from_row).collect()
    }

    /// One account.
    pub(crate) async fn account(conn: &mut Conn, id: &str) -> Result<Option<Account>, StorageError> {
        let row: Option<AccountRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{ACCOUNT_COLUMNS} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        row.map(account_from_row).transpose()
    }

    /// A journal row: account, asset_code, asset_scale, delta, reference, memo, created_at.
    type EntryRow = (String, String, i64, i64, String, String, i64);

    fn entry_from_row((account, asset_code, scale, delta, reference, memo, created_at): EntryRow) -> Result<LedgerEntry, StorageError> {
        Ok(LedgerEntry {
            account,
            asset_code,
            asset_scale: to_u8("asset_scale", scale)?,
            delta,
            reference,
            memo,
            created_at: to_u64("created_at", created_at)?,
        })
    }

    /// `seq` and an [`EntryRow`].
    type SeqEntryRow = (i64, String, String, i64, i64, String, String, i64);

    const ENTRY_COLUMNS: &str = "account, asset_code, asset_scale, delta, reference, memo, created_at";

    /// The newest `limit` journal entries of an account, newest first.
    pub(crate) async fn entries(conn: &mut Conn, account: &str, limit: u32) -> Result<Vec<LedgerEntry>, StorageError> {
        let rows: Vec<EntryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE account = $1 ORDER BY seq DESC LIMIT $2"
        )))
        .bind(account)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter().map(entry_from_row).collect()
    }

    /// The journal in the order it was applied: up to `limit` entries with `seq` after
    /// `after_seq`, each with its `seq` (for `btpnips db export`, paged).
    pub(crate) async fn journal_after(
        conn: &mut Conn,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<(i64, LedgerEntry)>, StorageError> {
        let rows: Vec<SeqEntryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT seq, {ENTRY_COLUMNS} FROM ledger_entries WHERE seq > $1 ORDER BY seq LIMIT $2"
        )))
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter()
            .map(|(seq, a, c, s, d, r, m, t)| Ok((seq, entry_from_row((a, c, s, d, r, m, t))?)))
            .collect()
    }
}
