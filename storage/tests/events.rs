//! Event storage rules (NIP-01) and REQ queries, on a real SQLite file.
mod common;

use common::*;
use protocol::nostr::Filter;
use storage::{InsertOutcome, Storage, StorageError};

async fn insert_all(s: &Storage, events: Vec<protocol::nostr::Event>) {
    for e in events {
        assert_eq!(s.writer().insert_event(e).await.unwrap(), InsertOutcome::Stored);
    }
}

/// Ten regular kind-1/kind-7 events from two authors at times 100..=109.
async fn seeded(b: Backend) -> (Db, Storage) {
    let (dir, s) = open(b).await;
    let mut events = Vec::new();
    for i in 0..10u64 {
        let author = if i % 2 == 0 { pk('a') } else { pk('b') };
        let kind = if i < 5 { 1 } else { 7 };
        let target = format!("t{}", i % 3);
        events.push(ev(i, &author, 100 + i, kind, &[&["e", &target], &["p", &pk('c')]]));
    }
    insert_all(&s, events).await;
    (dir, s)
}

async fn match_all_sorted_newest_first(b: Backend) {
    let (_d, s) = seeded(b).await;
    let all = s.query_events(&[Filter::default()]).await.unwrap();
    assert_eq!(ids(&all), hexes(&[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]));
    assert_eq!(s.event_count().await.unwrap(), 10);
    assert!(s.query_events(&[]).await.unwrap().is_empty());
}

async fn by_ids(b: Backend) {
    let (_d, s) = seeded(b).await;
    let f = Filter { ids: Some(hexes(&[3, 7, 42])), ..Filter::default() };
    assert_eq!(ids(&s.query_events(&[f]).await.unwrap()), hexes(&[7, 3]));
}

async fn by_authors(b: Backend) {
    let (_d, s) = seeded(b).await;
    let f = Filter { authors: Some(vec![pk('b')]), ..Filter::default() };
    assert_eq!(ids(&s.query_events(&[f]).await.unwrap()), hexes(&[9, 7, 5, 3, 1]));
    let f = Filter { authors: Some(vec![pk('a'), pk('b')]), ..Filter::default() };
    assert_eq!(s.query_events(&[f]).await.unwrap().len(), 10);
}

async fn by_kinds(b: Backend) {
    let (_d, s) = seeded(b).await;
    let f = Filter { kinds: Some(vec![7]), ..Filter::default() };
    assert_eq!(ids(&s.query_events(&[f]).await.unwrap()), hexes(&[9, 8, 7, 6, 5]));
    let f = Filter { kinds: Some(vec![1, 7]), authors: Some(vec![pk('a')]), ..Filter::default() };
    assert_eq!(ids(&s.query_events(&[f]).await.unwrap()), hexes(&[8, 6, 4, 2, 0]));
}

async fn by_tags(b: Backend) {
    let (_d, s) = seeded(b).await;
    // #e: t0 on 0,3,6,9; t1 on 1,4,7.
    let got = s.query_events(&[tag_filter('e', &["t0"])]).await.unwrap();
    assert_eq!(ids(&got), hexes(&[9, 6, 3, 0]));
    let got = s.query_events(&[tag_filter('e', &["t0", "t1"])]).await.unwrap();
    assert_eq!(ids(&got), hexes(&[9, 7, 6, 4, 3, 1, 0]));
    // #p matches all; AND with #e.
    let mut f = tag_filter('p', &[&pk('c')]);
    assert_eq!(s.query_events(&[f.clone()]).await.unwrap().len(), 10);
    f.tags.insert('e', vec!["t1".into()]);
    assert_eq!(ids(&s.query_events(&[f]).await.unwrap()), hexes(&[7, 4, 1]));
    // Unknown value, unknown letter, and case matters.
    assert!(s.query_events(&[tag_filter('e', &["nope"])]).await.unwrap().is_empty());
    assert!(s.query_events(&[tag_filter('E', &["t0"])]).await.unwrap().is_empty());
}

async fn tags_match_first_value_only_and_multi_letter_ignored(b: Backend) {
    let (_d, s) = open(b).await;
    let e = ev(1, &pk('a'), 10, 1, &[&["t", "nostr", "other"], &["title", "x"], &["T", "Up"]]);
    insert_all(&s, vec![e]).await;
    assert_eq!(s.query_events(&[tag_filter('t', &["nostr"])]).await.unwrap().len(), 1);
    assert!(s.query_events(&[tag_filter('t', &["other"])]).await.unwrap().is_empty());
    assert_eq!(s.query_events(&[tag_filter('T', &["Up"])]).await.unwrap().len(), 1);
}

async fn since_until_inclusive(b: Backend) {
    let (_d, s) = seeded(b).await;
    let f = Filter { since: Some(103), until: Some(105), ..Filter::default() };
    assert_eq!(ids(&s.query_events(&[f]).await.unwrap()), hexes(&[5, 4, 3]));
    let f = Filter { since: Some(109), ..Filter::default() };
    assert_eq!(ids(&s.query_events(&[f]).await.unwrap()), hexes(&[9]));
    let f = Filter { until: Some(100), ..Filter::default() };
    assert_eq!(ids(&s.query_events(&[f]).await.unwrap()), hexes(&[0]));
    let f = Filter { since: Some(106), until: Some(105), ..Filter::default() };
    assert!(s.query_events(&[f]).await.unwrap().is_empty());
    let f = Filter { since: Some(u64::MAX), ..Filter::default() };
    assert!(s.query_events(&[f]).await.unwrap().is_empty());
}

async fn limit_keeps_newest_per_filter(b: Backend) {
    let (_d, s) = seeded(b).await;
    let f = Filter { limit: Some(3), ..Filter::default() };
    assert_eq!(ids(&s.query_events(&[f]).await.unwrap()), hexes(&[9, 8, 7]));
    let f = Filter { limit: Some(2), authors: Some(vec![pk('a')]), ..Filter::default() };
    assert_eq!(ids(&s.query_events(&[f]).await.unwrap()), hexes(&[8, 6]));
    let f = Filter { limit: Some(0), ..Filter::default() };
    assert!(s.query_events(&[f]).await.unwrap().is_empty());
    // Each filter's limit applies to that filter alone.
    let a = Filter { limit: Some(1), kinds: Some(vec![1]), ..Filter::default() };
    let b = Filter { limit: Some(2), kinds: Some(vec![7]), ..Filter::default() };
    assert_eq!(ids(&s.query_events(&[a, b]).await.unwrap()), hexes(&[9, 8, 4]));
}

async fn union_dedups_and_sorts(b: Backend) {
    let (_d, s) = seeded(b).await;
    let a = Filter { ids: Some(hexes(&[1, 2, 3])), ..Filter::default() };
    let b = Filter { ids: Some(hexes(&[3, 4])), ..Filter::default() };
    assert_eq!(ids(&s.query_events(&[a, b]).await.unwrap()), hexes(&[4, 3, 2, 1]));
}

async fn equal_created_at_orders_by_id_and_limit_takes_lowest_ids(b: Backend) {
    let (_d, s) = open(b).await;
    insert_all(
        &s,
        vec![
            ev(5, &pk('a'), 50, 1, &[]),
            ev(3, &pk('a'), 50, 1, &[]),
            ev(4, &pk('a'), 50, 1, &[]),
            ev(9, &pk('a'), 40, 1, &[]),
        ],
    )
    .await;
    let all = s.query_events(&[Filter::default()]).await.unwrap();
    assert_eq!(ids(&all), hexes(&[3, 4, 5, 9]));
    let f = Filter { limit: Some(2), ..Filter::default() };
    assert_eq!(ids(&s.query_events(&[f]).await.unwrap()), hexes(&[3, 4]));
}

async fn empty_lists_match_nothing(b: Backend) {
    let (_d, s) = seeded(b).await;
    let empties = [
        Filter { ids: Some(vec![]), ..Filter::default() },
        Filter { authors: Some(vec![]), ..Filter::default() },
        Filter { kinds: Some(vec![]), ..Filter::default() },
        tag_filter('e', &[]),
    ];
    for f in empties {
        assert!(s.query_events(std::slice::from_ref(&f)).await.unwrap().is_empty(), "{f:?}");
    }
    // ...but do not stop the other filters of the union.
    let f = Filter { kinds: Some(vec![]), ..Filter::default() };
    let g = Filter { ids: Some(hexes(&[2])), ..Filter::default() };
    assert_eq!(ids(&s.query_events(&[f, g]).await.unwrap()), hexes(&[2]));
}

async fn stored_event_round_trips_exactly(b: Backend) {
    let (_d, s) = open(b).await;
    let e = ev(1, &pk('a'), 10, 1, &[&["e", "x", "wss://r"], &["client", "y"]]);
    insert_all(&s, vec![e.clone()]).await;
    assert_eq!(s.query_events(&[Filter::default()]).await.unwrap(), vec![e]);
}

async fn duplicate_id(b: Backend) {
    let (_d, s) = open(b).await;
    let e = ev(1, &pk('a'), 10, 1, &[]);
    assert_eq!(s.writer().insert_event(e.clone()).await.unwrap(), InsertOutcome::Stored);
    assert_eq!(s.writer().insert_event(e.clone()).await.unwrap(), InsertOutcome::Duplicate);
    // Also for replaceable kinds.
    let m = ev(2, &pk('a'), 10, 0, &[]);
    assert_eq!(s.writer().insert_event(m.clone()).await.unwrap(), InsertOutcome::Stored);
    assert_eq!(s.writer().insert_event(m).await.unwrap(), InsertOutcome::Duplicate);
    assert_eq!(s.event_count().await.unwrap(), 2);
}

async fn ephemeral_not_stored(b: Backend) {
    let (_d, s) = open(b).await;
    for (n, kind) in [(1, 20000u16), (2, 25000), (3, 29999)] {
        let e = ev(n, &pk('a'), 10, kind, &[]);
        assert_eq!(s.writer().insert_event(e).await.unwrap(), InsertOutcome::Ephemeral);
    }
    assert_eq!(s.event_count().await.unwrap(), 0);
}

async fn replaceable_keeps_newest(b: Backend) {
    let (_d, s) = open(b).await;
    let w = s.writer();
    for kind in [0u16, 3, 10000, 19999] {
        let base = u64::from(kind) * 100;
        assert_eq!(
            w.insert_event(ev(base + 1, &pk('a'), 10, kind, &[&["p", "old"]])).await.unwrap(),
            InsertOutcome::Stored
        );
        assert_eq!(w.insert_event(ev(base + 2, &pk('a'), 20, kind, &[])).await.unwrap(), InsertOutcome::Stored);
        // Older than the stored one: dropped.
        assert_eq!(w.insert_event(ev(base + 3, &pk('a'), 15, kind, &[])).await.unwrap(), InsertOutcome::Superseded);
        // Another author is independent.
        assert_eq!(w.insert_event(ev(base + 4, &pk('b'), 5, kind, &[])).await.unwrap(), InsertOutcome::Stored);
        let f = Filter { kinds: Some(vec![kind]), ..Filter::default() };
        assert_eq!(ids(&s.query_events(&[f]).await.unwrap()), hexes(&[base + 2, base + 4]));
    }
    // Tags of replaced versions are gone from the index.
    assert!(s.query_events(&[tag_filter('p', &["old"])]).await.unwrap().is_empty());
    // Regular kinds are never replaced.
    w.insert_event(ev(9001, &pk('a'), 10, 1, &[])).await.unwrap();
    w.insert_event(ev(9002, &pk('a'), 20, 1, &[])).await.unwrap();
    let f = Filter { kinds: Some(vec![1]), ..Filter::default() };
    assert_eq!(s.query_events(&[f]).await.unwrap().len(), 2);
}

async fn replaceable_tie_lowest_id_wins(b: Backend) {
    let (_d, s) = open(b).await;
    let w = s.writer();
    assert_eq!(w.insert_event(ev(50, &pk('a'), 10, 0, &[])).await.unwrap(), InsertOutcome::Stored);
    // Same created_at, higher id: loses.
    assert_eq!(w.insert_event(ev(60, &pk('a'), 10, 0, &[])).await.unwrap(), InsertOutcome::Superseded);
    // Same created_at, lower id: wins and replaces.
    assert_eq!(w.insert_event(ev(40, &pk('a'), 10, 0, &[])).await.unwrap(), InsertOutcome::Stored);
    let all = s.query_events(&[Filter::default()]).await.unwrap();
    assert_eq!(ids(&all), hexes(&[40]));
}

async fn addressable_keyed_by_d_tag(b: Backend) {
    let (_d, s) = open(b).await;
    let w = s.writer();
    let k = 30023;
    assert_eq!(w.insert_event(ev(1, &pk('a'), 10, k, &[&["d", "post"]])).await.unwrap(), InsertOutcome::Stored);
    assert_eq!(w.insert_event(ev(2, &pk('a'), 10, k, &[&["d", "other"]])).await.unwrap(), InsertOutcome::Stored);
    // No d tag counts as "", and so does an empty d value.
    assert_eq!(w.insert_event(ev(3, &pk('a'), 10, k, &[])).await.unwrap(), InsertOutcome::Stored);
    assert_eq!(w.insert_event(ev(4, &pk('a'), 11, k, &[&["d", ""]])).await.unwrap(), InsertOutcome::Stored);
    // Newer "post" replaces; older "other" is dropped; only the first d tag counts.
    assert_eq!(
        w.insert_event(ev(5, &pk('a'), 20, k, &[&["d", "post"], &["d", "other"]])).await.unwrap(),
        InsertOutcome::Stored
    );
    assert_eq!(w.insert_event(ev(6, &pk('a'), 5, k, &[&["d", "other"]])).await.unwrap(), InsertOutcome::Superseded);
    // Tie on "other": lower id wins.
    assert_eq!(w.insert_event(ev(7, &pk('a'), 10, k, &[&["d", "other"]])).await.unwrap(), InsertOutcome::Superseded);
    assert_eq!(w.insert_event(ev(0, &pk('a'), 10, k, &[&["d", "other"]])).await.unwrap(), InsertOutcome::Stored);
    // Same d, other kind or other author: independent.
    assert_eq!(w.insert_event(ev(8, &pk('a'), 1, 30024, &[&["d", "post"]])).await.unwrap(), InsertOutcome::Stored);
    assert_eq!(w.insert_event(ev(9, &pk('b'), 1, k, &[&["d", "post"]])).await.unwrap(), InsertOutcome::Stored);
    let all = s.query_events(&[Filter::default()]).await.unwrap();
    assert_eq!(ids(&all), hexes(&[5, 4, 0, 8, 9]));
    assert_eq!(ids(&s.query_events(&[tag_filter('d', &["post"])]).await.unwrap()), hexes(&[5, 8, 9]));
}

async fn created_at_beyond_i64_is_rejected(b: Backend) {
    let (_d, s) = open(b).await;
    let err = s.writer().insert_event(ev(1, &pk('a'), u64::MAX, 1, &[])).await.unwrap_err();
    assert!(matches!(err, StorageError::OutOfRange { field: "created_at", .. }), "{err}");
    assert_eq!(s.event_count().await.unwrap(), 0);
}

contract!(
    match_all_sorted_newest_first,
    by_ids,
    by_authors,
    by_kinds,
    by_tags,
    tags_match_first_value_only_and_multi_letter_ignored,
    since_until_inclusive,
    limit_keeps_newest_per_filter,
    union_dedups_and_sorts,
    equal_created_at_orders_by_id_and_limit_takes_lowest_ids,
    empty_lists_match_nothing,
    stored_event_round_trips_exactly,
    duplicate_id,
    ephemeral_not_stored,
    replaceable_keeps_newest,
    replaceable_tie_lowest_id_wins,
    addressable_keyed_by_d_tag,
    created_at_beyond_i64_is_rejected,
);
