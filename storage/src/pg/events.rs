//! Events on PostgreSQL: NIP-01 insert rules (writer side) and REQ queries (reader side),
//! with ids and pubkeys as BYTEA and list filters bound as one array each (`= ANY($n)`).
use protocol::nostr::{Event, Filter};
use sqlx::postgres::{PgConnection, Postgres};
use sqlx::QueryBuilder;

use crate::error::to_i64;
use crate::events::{d_tag, indexed_tags, matches_nothing, push_time_order_limit, Class, Union};
use crate::{InsertOutcome, StorageError};

/// 64 lowercase hex characters as the 32 bytes they spell. Errors: anything else (a refusal:
/// stored events and filters carry exact ids, NIP-01).
fn bytes32(field: &str, hex_id: &str) -> Result<Vec<u8>, StorageError> {
    match hex::decode(hex_id) {
        Ok(b) if b.len() == 32 => Ok(b),
        _ => Err(StorageError::Corrupt(format!("{field} {hex_id:?} is not 32 bytes of hex"))),
    }
}

/// Store events of regular kinds (NIP-01 §Kinds) whose ids are distinct, inside the writer's
/// open transaction, in one statement for the lot: the events not yet stored and their tags,
/// each column bound as one array (`UNNEST`). Returns, per event, whether it was stored
/// (`false`: its id was already stored). Errors: `created_at > i64::MAX`, an id or pubkey that
/// is not 32 bytes of hex, or a database error; the caller rolls back to its savepoint.
pub(crate) async fn insert_new(conn: &mut PgConnection, events: &[&Event]) -> Result<Vec<bool>, StorageError> {
    let mut ids = Vec::with_capacity(events.len());
    let mut pubkeys = Vec::with_capacity(events.len());
    let mut created = Vec::with_capacity(events.len());
    let mut kinds = Vec::with_capacity(events.len());
    let mut raws = Vec::with_capacity(events.len());
    let (mut tag_ids, mut tag_names, mut tag_values) = (Vec::new(), Vec::new(), Vec::new());
    for e in events {
        let id = bytes32("id", &e.id)?;
        for (name, value) in indexed_tags(e) {
            tag_ids.push(id.clone());
            tag_names.push(name);
            tag_values.push(value);
        }
        ids.push(id);
        pubkeys.push(bytes32("pubkey", &e.pubkey)?);
        created.push(to_i64("created_at", e.created_at)?);
        kinds.push(i64::from(e.kind));
        raws.push(serde_json::to_string(e)?);
    }
    let stored: Vec<Vec<u8>> = sqlx::query_scalar(
        "WITH ins AS (INSERT INTO events (id, pubkey, created_at, kind, d_tag, raw) \
         SELECT id, pubkey, created_at, kind, NULL, raw \
         FROM UNNEST($1::bytea[], $2::bytea[], $3::int8[], $4::int8[], $5::text[]) AS e (id, pubkey, created_at, kind, raw) \
         ON CONFLICT (id) DO NOTHING RETURNING id, created_at), \
         tags AS (INSERT INTO event_tags (event_id, name, value, created_at) \
         SELECT ins.id, t.name, t.value, ins.created_at \
         FROM UNNEST($6::bytea[], $7::text[], $8::text[]) AS t (event_id, name, value) JOIN ins ON ins.id = t.event_id) \
         SELECT id FROM ins",
    )
    .bind(&ids)
    .bind(&pubkeys)
    .bind(&created)
    .bind(&kinds)
    .bind(&raws)
    .bind(&tag_ids)
    .bind(&tag_names)
    .bind(&tag_values)
    .fetch_all(&mut *conn)
    .await?;
    let stored: std::collections::HashSet<Vec<u8>> = stored.into_iter().collect();
    Ok(ids.iter().map(|id| stored.contains(id)).collect())
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
    let raw = serde_json::to_string(event)?;
    let (names, values): (Vec<&str>, Vec<&str>) = indexed_tags(event).into_iter().unzip();

    if class == Class::Regular {
        // One round trip: the event unless its id is stored, then its tags; the count says
        // which happened (data-modifying CTEs all run, RETURNING feeds the tags).
        let stored: i64 = sqlx::query_scalar(
            "WITH ins AS (INSERT INTO events (id, pubkey, created_at, kind, d_tag, raw) \
             VALUES ($1, $2, $3, $4, NULL, $5) ON CONFLICT (id) DO NOTHING RETURNING id), \
             tags AS (INSERT INTO event_tags (event_id, name, value, created_at) \
             SELECT ins.id, t.name, t.value, $3 FROM ins, UNNEST($6::text[], $7::text[]) AS t (name, value)) \
             SELECT COUNT(*) FROM ins",
        )
        .bind(&id)
        .bind(&pubkey)
        .bind(created_at)
        .bind(kind)
        .bind(&raw)
        .bind(&names)
        .bind(&values)
        .fetch_one(&mut *conn)
        .await?;
        return Ok(if stored == 1 { InsertOutcome::Stored } else { InsertOutcome::Duplicate });
    }

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

    sqlx::query("INSERT INTO events (id, pubkey, created_at, kind, d_tag, raw) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(&pubkey)
        .bind(created_at)
        .bind(kind)
        .bind(d)
        .bind(raw)
        .execute(&mut *conn)
        .await?;
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

/// Push `AND <column> = $n` for one value, `AND <column> = ANY($n)` (one array parameter) for
/// several. One value is the common REQ shape and a plain equality lets PostgreSQL read an
/// index on (column, created_at DESC) in result order (with `ANY` it must sort the matches).
fn push_match<T>(qb: &mut QueryBuilder<Postgres>, column: &str, mut values: Vec<T>)
where
    T: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + sqlx::postgres::PgHasArrayType + Send + 'static,
{
    qb.push(" AND ").push(column);
    if values.len() == 1 {
        qb.push(" = ").push_bind(values.pop().expect("one value"));
    } else {
        qb.push(" = ANY(").push_bind(values).push(")");
    }
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
    let mut qb = QueryBuilder::new(format!("{prefix}SELECT raw FROM events WHERE TRUE"));
    if let Some(ids) = ids {
        push_match(&mut qb, "id", ids);
    }
    if let Some(authors) = authors {
        push_match(&mut qb, "pubkey", authors);
    }
    if let Some(kinds) = &f.kinds {
        push_match(&mut qb, "kind", kinds.iter().map(|k| i64::from(*k)).collect());
    }
    for (name, values) in &f.tags {
        qb.push(" AND id IN (SELECT event_id FROM event_tags WHERE name = ").push_bind(name.to_string());
        push_match(&mut qb, "value", values.clone());
        qb.push(")");
    }
    push_time_order_limit(&mut qb, f);
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

#[cfg(test)]
mod tests {
    use sqlx::postgres::PgConnectOptions;
    use sqlx::Connection;

    use super::*;

    /// The test database (`BTPNIPS_TEST_PG`, default the local server's `test`).
    fn base_url() -> String {
        std::env::var("BTPNIPS_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    /// A migrated schema `schema` (dropped first if a killed run left it): an admin connection
    /// and the writer's connection to the schema.
    async fn fresh_schema(schema: &str) -> (PgConnection, PgConnection) {
        let mut admin = PgConnection::connect(&base_url()).await.expect("PostgreSQL (scripts/postgres.sh)");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let options = base_url().parse::<PgConnectOptions>().unwrap().options([("search_path", schema)]);
        let conn = crate::pg::open_writer_with(&options).await.unwrap();
        (admin, conn)
    }

    /// The plan PostgreSQL picks for `f`, one line per node.
    async fn plan(conn: &mut PgConnection, f: &Filter) -> Vec<String> {
        let mut qb = filter_query_after("EXPLAIN ", f).expect("a filter that can match");
        qb.build_query_scalar().fetch_all(&mut *conn).await.unwrap()
    }

    /// Issue 12: each main REQ shape reads an index, never the whole table (which index is the
    /// planner's choice by selectivity, except ids and tags, which have only theirs). 3 000 events of
    /// 30 authors, 4 kinds and 100 `e` values, analysed; sequential scans are priced out
    /// (`enable_seqscan = off`) so the plan shows whether an index *can* serve the shape,
    /// whatever the table's size. (Whether the planner then reads in result order or sorts a
    /// few matches depends on its statistics, so that is not asserted here.)
    #[tokio::test]
    async fn main_req_shapes_read_an_index_never_a_sequential_scan() {
        let schema = format!("explain_{}", std::process::id());
        let (mut admin, mut conn) = fresh_schema(&schema).await;

        let author = |i: u64| format!("{:064x}", 0xa000 + i % 30);
        let mut tx = conn.begin().await.unwrap();
        for i in 0..3000u64 {
            let e = Event {
                id: format!("{i:064x}"),
                pubkey: author(i),
                created_at: 1_700_000_000 + i,
                kind: [1, 6, 7, 1111][(i % 4) as usize],
                tags: vec![vec!["e".into(), format!("t{}", i % 100)]],
                content: String::new(),
                sig: "0".repeat(128),
            };
            assert_eq!(insert(&mut tx, &e).await.unwrap(), InsertOutcome::Stored);
        }
        tx.commit().await.unwrap();
        sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
        sqlx::query("SET enable_seqscan = off").execute(&mut conn).await.unwrap();

        let one = |v: String| Some(vec![v]);
        let tag = |v: &str| {
            let mut f = Filter { limit: Some(50), ..Default::default() };
            f.tags.insert('e', vec![v.to_string()]);
            f
        };
        // (shape, filter, index it must read ("" for any: the planner picks by selectivity),
        // whether it must read in result order)
        // (shape, filter, index it must read: "" for any, the planner picks by selectivity)
        let shapes = [
            ("kinds", Filter { kinds: Some(vec![1]), limit: Some(100), ..Default::default() }, ""),
            ("authors", Filter { authors: one(author(3)), limit: Some(50), ..Default::default() }, ""),
            (
                "authors+kinds",
                Filter { authors: one(author(3)), kinds: Some(vec![1]), limit: Some(50), ..Default::default() },
                "",
            ),
            ("no field", Filter { limit: Some(100), ..Default::default() }, "events_time"),
            ("#e", tag("t7"), "event_tags_lookup"),
            ("ids", Filter { ids: Some(vec![format!("{:064x}", 42)]), ..Default::default() }, "events_pkey"),
            ("several kinds", Filter { kinds: Some(vec![1, 7]), limit: Some(100), ..Default::default() }, ""),
        ];
        for (name, f, index) in shapes {
            let text = plan(&mut conn, &f).await.join("\n");
            assert!(!text.contains("Seq Scan"), "{name} scans the table:\n{text}");
            assert!(text.contains("Index"), "{name} reads no index:\n{text}");
            assert!(text.contains(index), "{name} does not read {index}:\n{text}");
        }
        drop(conn);
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&mut admin).await.unwrap();
    }

    /// Replaceable and addressable events are unique per key in the schema too: a second row
    /// for the same (pubkey, kind) is refused by the partial unique index, not stored.
    #[tokio::test]
    async fn the_schema_refuses_a_second_replaceable_row() {
        let schema = format!("uniq_{}", std::process::id());
        let (mut admin, mut conn) = fresh_schema(&schema).await;
        let row = |id: u8, kind: i64, d: Option<&str>| {
            sqlx::query(
                "INSERT INTO events (id, pubkey, created_at, kind, d_tag, raw) VALUES ($1, $2, 1, $3, $4, '{}')",
            )
            .bind(vec![id; 32])
            .bind(vec![9u8; 32])
            .bind(kind)
            .bind(d.map(str::to_string))
        };
        row(1, 0, None).execute(&mut conn).await.unwrap();
        let second = row(2, 0, None).execute(&mut conn).await.unwrap_err();
        assert!(second.to_string().contains("events_replaceable"), "{second}");
        row(3, 30023, Some("a")).execute(&mut conn).await.unwrap();
        row(4, 30023, Some("b")).execute(&mut conn).await.unwrap();
        let again = row(5, 30023, Some("a")).execute(&mut conn).await.unwrap_err();
        assert!(again.to_string().contains("events_addressable"), "{again}");
        row(6, 1, None).execute(&mut conn).await.unwrap();
        row(7, 1, None).execute(&mut conn).await.expect("regular kinds are not unique per author");
        conn.close().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&mut admin).await.unwrap();
    }
}
