//! Events: NIP-01 insert rules (writer side) and REQ queries (reader side).
use std::collections::{BTreeSet, HashSet};

use protocol::nostr::{Event, Filter};
use sqlx::sqlite::{Sqlite, SqliteConnection};
use sqlx::QueryBuilder;

use crate::error::to_i64;
use crate::{InsertOutcome, StorageError};

/// Safety cap on the events one [`crate::Storage::query_events`] call returns: the limit of
/// a filter without `limit` (or with a larger one), and of the union of all filters.
pub const MAX_QUERY_EVENTS: usize = 5000;

/// How NIP-01 treats a kind for storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Regular,
    Replaceable,
    Ephemeral,
    Addressable,
}

impl Class {
    pub(crate) fn of(kind: u16) -> Class {
        match kind {
            0 | 3 | 10000..=19999 => Class::Replaceable,
            20000..=29999 => Class::Ephemeral,
            30000..=39999 => Class::Addressable,
            _ => Class::Regular,
        }
    }
}

/// First value of the first `d` tag, `""` if there is none.
pub(crate) fn d_tag(event: &Event) -> &str {
    event
        .tags
        .iter()
        .find(|t| t.first().map(String::as_str) == Some("d"))
        .and_then(|t| t.get(1))
        .map_or("", String::as_str)
}

/// The (name, value) pairs indexed in `event_tags`: tags whose name is one character and
/// that have a value (the first value counts, as NIP-01 filters match on it).
pub(crate) fn indexed_tags(event: &Event) -> BTreeSet<(&str, &str)> {
    event
        .tags
        .iter()
        .filter_map(|t| match (t.first(), t.get(1)) {
            (Some(name), Some(value)) if name.chars().count() == 1 => Some((name.as_str(), value.as_str())),
            _ => None,
        })
        .collect()
}

/// Apply [`crate::Op::InsertEvent`] inside the writer's open transaction.
pub(crate) async fn insert(conn: &mut SqliteConnection, event: &Event) -> Result<InsertOutcome, StorageError> {
    let class = Class::of(event.kind);
    if class == Class::Ephemeral {
        return Ok(InsertOutcome::Ephemeral);
    }
    let created_at = to_i64("created_at", event.created_at)?;
    let kind = i64::from(event.kind);

    let exists: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM events WHERE id = $1").bind(&event.id).fetch_optional(&mut *conn).await?;
    if exists.is_some() {
        return Ok(InsertOutcome::Duplicate);
    }

    let d = (class == Class::Addressable).then(|| d_tag(event));
    if matches!(class, Class::Replaceable | Class::Addressable) {
        let older: Vec<(String, i64)> = match d {
            Some(d) => {
                sqlx::query_as("SELECT id, created_at FROM events WHERE pubkey = $1 AND kind = $2 AND d_tag = $3")
                    .bind(&event.pubkey)
                    .bind(kind)
                    .bind(d)
            }
            None => sqlx::query_as("SELECT id, created_at FROM events WHERE pubkey = $1 AND kind = $2")
                .bind(&event.pubkey)
                .bind(kind),
        }
        .fetch_all(&mut *conn)
        .await?;
        // NIP-01: keep the newest; on equal created_at the lowest id.
        let beats_incoming = |(id, at): &(String, i64)| *at > created_at || (*at == created_at && *id < event.id);
        if older.iter().any(beats_incoming) {
            return Ok(InsertOutcome::Superseded);
        }
        for (id, _) in &older {
            sqlx::query("DELETE FROM event_tags WHERE event_id = $1").bind(id).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM events WHERE id = $1").bind(id).execute(&mut *conn).await?;
        }
    }

    let raw = serde_json::to_string(event)?;
    sqlx::query("INSERT INTO events (id, pubkey, created_at, kind, d_tag, raw) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&event.id)
        .bind(&event.pubkey)
        .bind(created_at)
        .bind(kind)
        .bind(d)
        .bind(raw)
        .execute(&mut *conn)
        .await?;
    for (name, value) in indexed_tags(event) {
        sqlx::query("INSERT INTO event_tags (event_id, name, value) VALUES ($1, $2, $3)")
            .bind(&event.id)
            .bind(name)
            .bind(value)
            .execute(&mut *conn)
            .await?;
    }
    Ok(InsertOutcome::Stored)
}

/// Events per statement of [`insert_new`] (6 parameters each, far below SQLite's 32 766).
const INSERT_CHUNK: usize = 400;
/// Tag rows per statement of [`insert_new`] (3 parameters each).
const TAG_CHUNK: usize = 1000;

/// Store events of regular kinds (NIP-01 §Kinds: neither replaceable, ephemeral nor
/// addressable) whose ids are distinct, inside the writer's open transaction, in a few
/// statements for the lot: which ids are already stored, then one multi-row INSERT of the
/// others and one of their tags, per chunk. Returns, per event, whether it was stored (`false`:
/// its id was already stored). Errors: `created_at > i64::MAX` ([`StorageError::OutOfRange`]),
/// or a database error; the caller rolls back to its savepoint either way.
pub(crate) async fn insert_new(conn: &mut SqliteConnection, events: &[&Event]) -> Result<Vec<bool>, StorageError> {
    let mut stored = Vec::with_capacity(events.len());
    for chunk in events.chunks(INSERT_CHUNK) {
        let created: Vec<i64> = chunk.iter().map(|e| to_i64("created_at", e.created_at)).collect::<Result<_, _>>()?;
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT id FROM events WHERE id IN (");
        let mut list = qb.separated(", ");
        for e in chunk {
            list.push_bind(e.id.as_str());
        }
        list.push_unseparated(")");
        let known: HashSet<String> =
            qb.build_query_scalar().persistent(false).fetch_all(&mut *conn).await?.into_iter().collect();
        let fresh: Vec<(&Event, i64)> =
            chunk.iter().zip(created).filter(|(e, _)| !known.contains(&e.id)).map(|(e, at)| (*e, at)).collect();
        stored.extend(chunk.iter().map(|e| !known.contains(&e.id)));
        if fresh.is_empty() {
            continue;
        }
        let raws: Vec<String> = fresh.iter().map(|(e, _)| serde_json::to_string(e)).collect::<Result<_, _>>()?;
        let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO events (id, pubkey, created_at, kind, d_tag, raw) ");
        qb.push_values(fresh.iter().zip(&raws), |mut row, ((e, at), raw)| {
            row.push_bind(e.id.as_str())
                .push_bind(e.pubkey.as_str())
                .push_bind(*at)
                .push_bind(i64::from(e.kind))
                .push_bind(None::<&str>)
                .push_bind(raw.as_str());
        });
        qb.build().persistent(false).execute(&mut *conn).await?;
        let tags: Vec<(&str, &str, &str)> = fresh
            .iter()
            .flat_map(|(e, _)| indexed_tags(e).into_iter().map(move |(name, value)| (e.id.as_str(), name, value)))
            .collect();
        for rows in tags.chunks(TAG_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO event_tags (event_id, name, value) ");
            qb.push_values(rows, |mut row, (id, name, value)| {
                row.push_bind(*id).push_bind(*name).push_bind(*value);
            });
            qb.build().persistent(false).execute(&mut *conn).await?;
        }
    }
    Ok(stored)
}

/// Push `AND <column> IN (v1, v2, ...)`.
fn push_in<T>(qb: &mut QueryBuilder<Sqlite>, column: &str, values: impl IntoIterator<Item = T>)
where
    T: for<'q> sqlx::Encode<'q, Sqlite> + sqlx::Type<Sqlite>,
{
    qb.push(" AND ").push(column).push(" IN (");
    let mut list = qb.separated(", ");
    for v in values {
        list.push_bind(v);
    }
    list.push_unseparated(")");
}

/// The SQL for one filter, or `None` if it can match nothing (an empty list, `limit: 0`).
fn filter_query(f: &Filter) -> Option<QueryBuilder<Sqlite>> {
    filter_query_after("", f)
}

/// [`filter_query`] after `prefix` (`EXPLAIN QUERY PLAN ` in the index tests).
fn filter_query_after(prefix: &str, f: &Filter) -> Option<QueryBuilder<Sqlite>> {
    if matches_nothing(f) {
        return None;
    }
    let mut qb = QueryBuilder::new(format!("{prefix}SELECT raw FROM events WHERE 1 = 1"));
    if let Some(ids) = &f.ids {
        push_in(&mut qb, "id", ids.iter().cloned());
    }
    if let Some(authors) = &f.authors {
        push_in(&mut qb, "pubkey", authors.iter().cloned());
    }
    if let Some(kinds) = &f.kinds {
        push_in(&mut qb, "kind", kinds.iter().map(|k| i64::from(*k)));
    }
    for (name, values) in &f.tags {
        qb.push(" AND id IN (SELECT event_id FROM event_tags WHERE name = ").push_bind(name.to_string());
        push_in(&mut qb, "value", values.iter().cloned());
        qb.push(")");
    }
    push_time_order_limit(&mut qb, f);
    Some(qb)
}

/// The end of every backend's filter SQL: `since`/`until` (inclusive, unix s), then NIP-01's
/// order (created_at DESC, id ASC) and the filter's `limit`, at most [`MAX_QUERY_EVENTS`].
pub(crate) fn push_time_order_limit<DB: sqlx::Database>(qb: &mut QueryBuilder<DB>, f: &Filter)
where
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let clamp = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
    if let Some(since) = f.since {
        qb.push(" AND created_at >= ").push_bind(clamp(since));
    }
    if let Some(until) = f.until {
        qb.push(" AND created_at <= ").push_bind(clamp(until));
    }
    let limit = f.limit.unwrap_or(MAX_QUERY_EVENTS).min(MAX_QUERY_EVENTS);
    qb.push(" ORDER BY created_at DESC, id ASC LIMIT ").push_bind(limit as i64);
}

/// NIP-01 REQ: union over `filters`, deduplicated, sorted created_at DESC then id ASC,
/// capped at [`MAX_QUERY_EVENTS`]. Runs in one read transaction (one snapshot).
pub(crate) async fn query(conn: &mut SqliteConnection, filters: &[Filter]) -> Result<Vec<Event>, StorageError> {
    let mut union = Union::default();
    for f in filters {
        let Some(mut qb) = filter_query(f) else {
            continue;
        };
        let raws: Vec<String> = qb.build_query_scalar().fetch_all(&mut *conn).await?;
        union.extend(raws)?;
    }
    Ok(union.finish())
}

/// The union of the filters' results (every backend): deduplicated by id, sorted
/// created_at DESC then id ASC, capped at [`MAX_QUERY_EVENTS`].
#[derive(Default)]
pub(crate) struct Union {
    seen: HashSet<String>,
    out: Vec<Event>,
}

impl Union {
    /// Add one filter's matches (stored event JSON). Errors: a stored row that does not parse.
    pub(crate) fn extend(&mut self, raws: Vec<String>) -> Result<(), StorageError> {
        for raw in raws {
            let event: Event =
                serde_json::from_str(&raw).map_err(|e| StorageError::Corrupt(format!("stored event: {e}")))?;
            if self.seen.insert(event.id.clone()) {
                self.out.push(event);
            }
        }
        Ok(())
    }

    /// The result in NIP-01 order.
    pub(crate) fn finish(mut self) -> Vec<Event> {
        self.out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.cmp(&b.id)));
        self.out.truncate(MAX_QUERY_EVENTS);
        self.out
    }
}

/// Parse stored event JSON rows. Errors: a row that does not parse ([`StorageError::Corrupt`]).
pub(crate) fn parse_stored(raws: Vec<String>) -> Result<Vec<Event>, StorageError> {
    raws.iter()
        .map(|raw| serde_json::from_str(raw).map_err(|e| StorageError::Corrupt(format!("stored event: {e}"))))
        .collect()
}

/// Whether filter `f` can match nothing (an empty list in a field, `limit: 0`): no query.
pub(crate) fn matches_nothing(f: &Filter) -> bool {
    let empty = |l: &Option<Vec<_>>| l.as_ref().is_some_and(Vec::is_empty);
    empty(&f.ids)
        || empty(&f.authors)
        || f.kinds.as_ref().is_some_and(Vec::is_empty)
        || f.tags.values().any(Vec::is_empty)
        || f.limit == Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query plan of `f`'s SQL, one line per step.
    async fn plan(conn: &mut SqliteConnection, f: &Filter) -> Vec<String> {
        let mut qb = filter_query_after("EXPLAIN QUERY PLAN ", f).expect("a filter that can match");
        let rows: Vec<(i64, i64, i64, String)> = qb.build_query_as().fetch_all(&mut *conn).await.unwrap();
        rows.into_iter().map(|r| r.3).collect()
    }

    /// Issue 17: each main REQ shape with a `limit` reads its index in result order: the plan
    /// names the index, does not scan the table, and sorts at most the ties of one second by id
    /// (`USE TEMP B-TREE FOR RIGHT PART OF ORDER BY`), never the whole result.
    #[tokio::test]
    async fn main_req_shapes_read_their_index_in_result_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::sqlite::open_writer(&dir.path().join("q.db")).await.unwrap();
        let pk = || Some(vec!["a".repeat(64)]);
        let shapes = [
            ("kinds", Filter { kinds: Some(vec![1]), limit: Some(100), ..Default::default() }, "events_kind_time"),
            ("authors", Filter { authors: pk(), limit: Some(50), ..Default::default() }, "events_pubkey_time"),
            (
                "authors+kinds",
                Filter { authors: pk(), kinds: Some(vec![1]), limit: Some(50), ..Default::default() },
                "events_pubkey_kind_time",
            ),
            ("no field", Filter { limit: Some(100), ..Default::default() }, "events_time"),
            (
                "authors+kinds+since",
                Filter { authors: pk(), kinds: Some(vec![0]), since: Some(1), limit: Some(1), ..Default::default() },
                "events_pubkey_kind_time",
            ),
        ];
        for (name, f, index) in shapes {
            let plan = plan(&mut conn, &f).await;
            let text = plan.join(" | ");
            assert!(text.contains(&format!("USING INDEX {index}")), "{name}: {text}");
            assert!(!text.contains("TEMP B-TREE FOR ORDER BY"), "{name} sorts instead of reading in order: {text}");
            assert!(!plan.iter().any(|l| l.starts_with("SCAN events") && !l.contains("INDEX")), "{name}: {text}");
        }
        // By id: the primary key.
        let ids = Filter { ids: Some(vec!["b".repeat(64)]), ..Default::default() };
        let text = plan(&mut conn, &ids).await.join(" | ");
        assert!(text.contains("sqlite_autoindex_events_1"), "ids: {text}");
    }

    #[test]
    fn classes() {
        assert_eq!(Class::of(0), Class::Replaceable);
        assert_eq!(Class::of(1), Class::Regular);
        assert_eq!(Class::of(3), Class::Replaceable);
        assert_eq!(Class::of(9999), Class::Regular);
        assert_eq!(Class::of(10000), Class::Replaceable);
        assert_eq!(Class::of(19999), Class::Replaceable);
        assert_eq!(Class::of(20000), Class::Ephemeral);
        assert_eq!(Class::of(29999), Class::Ephemeral);
        assert_eq!(Class::of(30000), Class::Addressable);
        assert_eq!(Class::of(39999), Class::Addressable);
        assert_eq!(Class::of(40000), Class::Regular);
    }

    #[test]
    fn tags_indexed() {
        let e = Event {
            id: String::new(),
            pubkey: String::new(),
            created_at: 0,
            kind: 1,
            tags: vec![
                vec!["e".into(), "x".into(), "relay".into()],
                vec!["e".into(), "x".into()],
                vec!["p".into()],
                vec!["title".into(), "t".into()],
                vec!["d".into(), "slug".into()],
            ],
            content: String::new(),
            sig: String::new(),
        };
        let tags: Vec<_> = indexed_tags(&e).into_iter().collect();
        assert_eq!(tags, vec![("d", "slug"), ("e", "x")]);
        assert_eq!(d_tag(&e), "slug");
    }
}
