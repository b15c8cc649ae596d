//! Subscriptions, peers and meta: plain keyed rows.

use crate::error::{to_i64, to_u64, to_u8};
use crate::{filter_json, Direction, PeerRecord, StorageError, SubscriptionRecord, SubscriptionStatus};

crate::backends::for_each_backend! {
    /// Apply [`crate::Op::UpsertSubscription`].
    pub(crate) async fn upsert_subscription(
        conn: &mut Conn,
        s: &SubscriptionRecord,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO subscriptions (direction, peer, subscription_id, filters, stream_id, \
             amount_paid, events_delivered, paid_until, periods_paid, status, revision, created_at, updated_at, \
             delivered_newest) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (direction, peer, subscription_id) DO UPDATE SET \
             filters = excluded.filters, stream_id = excluded.stream_id, \
             amount_paid = excluded.amount_paid, events_delivered = excluded.events_delivered, \
             paid_until = excluded.paid_until, periods_paid = excluded.periods_paid, \
             status = excluded.status, revision = excluded.revision, \
             created_at = excluded.created_at, updated_at = excluded.updated_at, \
             delivered_newest = excluded.delivered_newest \
             WHERE excluded.revision > subscriptions.revision",
        )
        .bind(s.direction.as_str())
        .bind(&s.peer)
        .bind(&s.subscription_id)
        .bind(filter_json::to_text(&s.filters))
        .bind(to_i64("stream_id", s.stream_id)?)
        .bind(to_i64("amount_paid", s.amount_paid)?)
        .bind(to_i64("events_delivered", s.events_delivered)?)
        .bind(to_i64("paid_until", s.paid_until)?)
        .bind(to_i64("periods_paid", s.periods_paid)?)
        .bind(s.status.to_string())
        .bind(to_i64("revision", s.revision)?)
        .bind(to_i64("created_at", s.created_at)?)
        .bind(to_i64("updated_at", s.updated_at)?)
        .bind(match &s.delivered_newest {
            Some(d) => serde_json::to_string(d).map_err(|e| StorageError::Corrupt(format!("delivered_newest: {e}")))?,
            None => String::new(),
        })
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Apply [`crate::Op::DeleteSubscription`].
    pub(crate) async fn delete_subscription(
        conn: &mut Conn,
        direction: Direction,
        peer: &str,
        subscription_id: &str,
    ) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM subscriptions WHERE direction = $1 AND peer = $2 AND subscription_id = $3")
            .bind(direction.as_str())
            .bind(peer)
            .bind(subscription_id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    type SubscriptionRow = (String, String, String, String, i64, i64, i64, i64, i64, String, i64, i64, i64, String);

    /// All subscriptions, by (direction, peer, subscription_id).
    pub(crate) async fn subscriptions(conn: &mut Conn) -> Result<Vec<SubscriptionRecord>, StorageError> {
        let rows: Vec<SubscriptionRow> = sqlx::query_as(
            "SELECT direction, peer, subscription_id, filters, stream_id, amount_paid, \
             events_delivered, paid_until, periods_paid, status, revision, created_at, updated_at, delivered_newest \
             FROM subscriptions \
             ORDER BY direction, peer, subscription_id",
        )
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(SubscriptionRecord {
                    direction: Direction::parse(&r.0)
                        .ok_or_else(|| StorageError::Corrupt(format!("direction {:?}", r.0)))?,
                    peer: r.1,
                    subscription_id: r.2,
                    filters: filter_json::from_text(&r.3)?,
                    stream_id: to_u64("stream_id", r.4)?,
                    amount_paid: to_u64("amount_paid", r.5)?,
                    events_delivered: to_u64("events_delivered", r.6)?,
                    paid_until: to_u64("paid_until", r.7)?,
                    periods_paid: to_u64("periods_paid", r.8)?,
                    status: SubscriptionStatus::parse(&r.9),
                    revision: to_u64("revision", r.10)?,
                    created_at: to_u64("created_at", r.11)?,
                    updated_at: to_u64("updated_at", r.12)?,
                    delivered_newest: if r.13.is_empty() {
                        None
                    } else {
                        Some(
                            serde_json::from_str(&r.13)
                                .map_err(|e| StorageError::Corrupt(format!("delivered_newest: {e}")))?,
                        )
                    },
                })
            })
            .collect()
    }

    /// Apply [`crate::Op::UpsertPeer`].
    pub(crate) async fn upsert_peer(conn: &mut Conn, p: &PeerRecord) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO peers (account_id, pubkey, ilp_address, url, asset_code, asset_scale, \
             prices, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (account_id) DO UPDATE SET pubkey = excluded.pubkey, \
             ilp_address = excluded.ilp_address, url = excluded.url, \
             asset_code = excluded.asset_code, asset_scale = excluded.asset_scale, \
             prices = excluded.prices, last_seen = excluded.last_seen",
        )
        .bind(&p.account_id)
        .bind(&p.pubkey)
        .bind(&p.ilp_address)
        .bind(p.url.as_deref())
        .bind(&p.asset_code)
        .bind(i64::from(p.asset_scale))
        .bind(serde_json::to_string(&p.prices)?)
        .bind(to_i64("last_seen", p.last_seen)?)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    type PeerRow = (String, String, String, Option<String>, String, i64, String, i64);

    /// All peers, by account id.
    pub(crate) async fn peers(conn: &mut Conn) -> Result<Vec<PeerRecord>, StorageError> {
        let rows: Vec<PeerRow> = sqlx::query_as(
            "SELECT account_id, pubkey, ilp_address, url, asset_code, asset_scale, prices, last_seen \
             FROM peers ORDER BY account_id",
        )
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(PeerRecord {
                    account_id: r.0,
                    pubkey: r.1,
                    ilp_address: r.2,
                    url: r.3,
                    asset_code: r.4,
                    asset_scale: to_u8("asset_scale", r.5)?,
                    prices: serde_json::from_str(&r.6)?,
                    last_seen: to_u64("last_seen", r.7)?,
                })
            })
            .collect()
    }

    /// Apply [`crate::Op::SetMeta`].
    pub(crate) async fn set_meta(conn: &mut Conn, key: &str, value: &str) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// One meta value.
    pub(crate) async fn meta(conn: &mut Conn, key: &str) -> Result<Option<String>, StorageError> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1").bind(key).fetch_optional(&mut *conn).await?)
    }

    /// Every meta value, by key.
    pub(crate) async fn meta_all(conn: &mut Conn) -> Result<Vec<(String, String)>, StorageError> {
        Ok(sqlx::query_as("SELECT key, value FROM meta ORDER BY key").fetch_all(&mut *conn).await?)
    }
}
