//! Events on PostgreSQL: NIP-01 insert rules (writer side) and REQ queries (reader side),
//! with ids and pubkeys as BYTEA and list filters bound as one array each (`= ANY($n)`).
use protocol::nostr::{Event, Filter};
use sqlx::postgres::{PgConnection, Postgres};
use sqlx::QueryBuilder;

use crate::error::to_i64;
use crate::events::{d_tag, indexed_tags, matches_nothing, Class, Union};
use crate::{InsertOutcome, StorageError, MAX_QUERY_EVENTS};

/// 64 lowercase hex characters as the 32 bytes they spell. Errors: anything else (a refusal:
/// stored events and filters carry exact ids, NIP-01).
fn bytes32(field: &str, hex_id: &str) -> Result<Vec<u8>, StorageError> {
    match hex::decode(hex_id) {
        Ok(b) if b.len() == 32 => Ok(b),
        _ => Err(StorageError::Corrupt(format!("{field} {hex_id:?} is not 32 bytes of hex"))),
    }
}

/// Apply [`crate::Op::InsertEvent`] inside the writer's open transaction.
pub(crate) async fn insert(conn: &mut PgConnection, event: &Event) -> Result<InsertOutcome, StorageError> {
    let class = Class::of(event.kind);
    if class == Class::Ephemeral {
        return Ok(InsertOutcome::Ephemeral);
    }
    let id = bytes32("id", &event.id)?;
    let pubkey = bytes32("pubkey", &event.pubkey)?;
    let created_at = to_i64("created_at", event.created_at)?;
    let kind = i64::from(event.kind);

    let exists: Option<i64> = sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM events WHERE id = $1")
        .bind(&id)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_some() {
        return Ok(InsertOutcome::Duplicate);
    }

    let d = (class == Class::Addressable).then(|| d_tag(event));
    if matches!(class, Class::Replaceable | Class::Addressable) {
        let older: Vec<(Vec<u8>, i64)> = match d {
            Some(d) => {
                sqlx::query_as("SELECT id, created_at FROM events WHERE pubkey = $1 AND kind = $2 AND d_tag = $3")
                    .bind(&pubkey)
                    .bind(kind)
                    .bind(d)
            }
            None => sqlx::query_as("SELECT id, created_at FROM events WHERE pubkey = $1 AND kind = $2")
                .bind(&pubkey)
                .bind(kind),
        }
        .fetch_all(&mut *conn)
        .await?;
        // NIP-01: keep the newest; on equal created_at the lowest id (bytes order as hex does).
        let beats_incoming = |(old, at): &(Vec<u8>, i64)| *at > created_at || (*at == created_at && *old < id);
        if older.iter().any(beats_incoming) {
            return Ok(InsertOutcome::Superseded);
        }
        for (old, _) in &older {
            // Its tags go with it (ON DELETE CASCADE).
            sqlx::query("DELETE FROM events WHERE id = $1").bind(old).execute(&mut *conn).await?;
        }
    }

    let raw = serde_json::to_string(event)?;
    sqlx::query("INSERT INTO events (id, pubkey, created_at, kind, d_tag, raw) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(&pubkey)
        .bind(created_at)
        .bind(kind)
        .bind(d)
        .bind(raw)
        .execute(&mut *conn)
        .await?;
    let (names, values): (Vec<&str>, Vec<&str>) = indexed_tags(event).into_iter().unzip();
    if !names.is_empty() {
        sqlx::query(
            "INSERT INTO event_tags (event_id, name, value, created_at) \
             SELECT $1, t.name, t.value, $4 FROM UNNEST($2::text[], $3::text[]) AS t (name, value)",
        )
        .bind(&id)
        .bind(names)
        .bind(values)
        .bind(created_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(InsertOutcome::Stored)
}

/// The hex values of an `ids`/`authors` list that are 32-byte ids (others match nothing).
fn byte_list(values: &[String]) -> Vec<Vec<u8>> {
    values.iter().filter_map(|v| bytes32("filter value", v).ok()).collect()
}

/// The SQL for one filter after `prefix` (`EXPLAIN ` in the index tests), or `None` if it can
/// match nothing.
pub(crate) fn filter_query_after(prefix: &str, f: &Filter) -> Option<QueryBuilder<Postgres>> {
    if matches_nothing(f) {
        return None;
    }
    let ids = f.ids.as_deref().map(byte_list);
    let authors = f.authors.as_deref().map(byte_list);
    if ids.as_ref().is_some_and(Vec::is_empty) || authors.as_ref().is_some_and(Vec::is_empty) {
        return None;
    }
    let clamp = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
    let mut qb = QueryBuilder::new(format!("{prefix}SELECT raw FROM events WHERE TRUE"));
    if let Some(ids) = ids {
        qb.push(" AND id = ANY(").push_bind(ids).push(")");
    }
    if let Some(authors) = authors {
        qb.push(" AND pubkey = ANY(").push_bind(authors).push(")");
    }
    if let Some(kinds) = &f.kinds {
        let kinds: Vec<i64> = kinds.iter().map(|k| i64::from(*k)).collect();
        qb.push(" AND kind = ANY(").push_bind(kinds).push(")");
    }
    for (name, values) in &f.tags {
        qb.push(" AND id IN (SELECT event_id FROM event_tags WHERE name = ")
            .push_bind(name.to_string())
            .push(" AND value = ANY(")
            .push_bind(values.clone())
            .push("))");
    }
    if let Some(since) = f.since {
        qb.push(" AND created_at >= ").push_bind(clamp(since));
    }
    if let Some(until) = f.until {
        qb.push(" AND created_at <= ").push_bind(clamp(until));
    }
    let limit = f.limit.unwrap_or(MAX_QUERY_EVENTS).min(MAX_QUERY_EVENTS);
    qb.push(" ORDER BY created_at DESC, id ASC LIMIT ").push_bind(limit as i64);
    Some(qb)
}

/// NIP-01 REQ: union over `filters`, deduplicated, sorted created_at DESC then id ASC,
/// capped at [`MAX_QUERY_EVENTS`]. The caller runs it in one REPEATABLE READ transaction.
pub(crate) async fn query(conn: &mut PgConnection, filters: &[Filter]) -> Result<Vec<Event>, StorageError> {
    let mut union = Union::default();
    for f in filters {
        let Some(mut qb) = filter_query_after("", f) else {
            continue;
        };
        let raws: Vec<String> = qb.build_query_scalar().fetch_all(&mut *conn).await?;
        union.extend(raws)?;
    }
    Ok(union.finish())
}
