//! The `channels` table: payment-channel state per peer and direction.

use crate::error::{to_i64, to_u64};
use crate::records::{ChannelRecord, Direction};
use crate::status::ChannelStatus;
use crate::StorageError;

crate::backends::for_each_backend! {
    /// Apply [`crate::Op::UpsertChannel`]: insert, or replace a row with a lower revision.
    pub(crate) async fn upsert(conn: &mut Conn, c: &ChannelRecord) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO channels (peer, direction, channel_id, chain_id, contract, sender, recipient, deposit, expiry, \
             claimed, signature, status, revision, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (peer, direction, channel_id) DO UPDATE SET chain_id = excluded.chain_id, \
             contract = excluded.contract, sender = excluded.sender, recipient = excluded.recipient, \
             deposit = excluded.deposit, expiry = excluded.expiry, claimed = excluded.claimed, \
             signature = excluded.signature, status = excluded.status, revision = excluded.revision, \
             updated_at = excluded.updated_at WHERE excluded.revision > channels.revision",
        )
        .bind(&c.peer)
        .bind(c.direction.as_str())
        .bind(&c.channel_id)
        .bind(to_i64("chain_id", c.chain_id)?)
        .bind(&c.contract)
        .bind(&c.sender)
        .bind(&c.recipient)
        .bind(&c.deposit)
        .bind(to_i64("expiry", c.expiry)?)
        .bind(&c.claimed)
        .bind(&c.signature)
        .bind(c.status.as_str())
        .bind(to_i64("revision", c.revision)?)
        .bind(to_i64("updated_at", c.updated_at)?)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    type Row = (String, String, String, i64, String, String, String, String, i64, String, Option<String>, String, i64, i64);

    /// All channels, by (peer, direction, channel_id).
    pub(crate) async fn list(conn: &mut Conn) -> Result<Vec<ChannelRecord>, StorageError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT peer, direction, channel_id, chain_id, contract, sender, recipient, deposit, expiry, claimed, \
             signature, status, revision, updated_at FROM channels ORDER BY peer, direction, channel_id",
        )
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ChannelRecord {
                    peer: r.0,
                    direction: Direction::parse(&r.1)
                        .ok_or_else(|| StorageError::Corrupt(format!("direction {:?}", r.1)))?,
                    channel_id: r.2,
                    chain_id: to_u64("chain_id", r.3)?,
                    contract: r.4,
                    sender: r.5,
                    recipient: r.6,
                    deposit: r.7,
                    expiry: to_u64("expiry", r.8)?,
                    claimed: r.9,
                    signature: r.10,
                    status: ChannelStatus::parse(&r.11),
                    revision: to_u64("revision", r.12)?,
                    updated_at: to_u64("updated_at", r.13)?,
                })
            })
            .collect()
    }
}
