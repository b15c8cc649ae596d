//! Shared helpers: a fresh database file in a tempdir and fabricated events.
#![allow(dead_code)]
use protocol::nostr::{Event, Filter};
use storage::Storage;

/// A database in its own tempdir (kept alive by the returned guard).
pub async fn open() -> (tempfile::TempDir, std::path::PathBuf, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    let storage = Storage::open_sqlite(&path).await.unwrap();
    (dir, path, storage)
}

/// A distinct 64-hex id for `n`.
pub fn hex(n: u64) -> String {
    format!("{n:064x}")
}

/// A 64-hex pubkey made of one repeated letter.
pub fn pk(c: char) -> String {
    c.to_string().repeat(64)
}

/// A signed-looking event (storage does not verify signatures).
pub fn ev(id: u64, pubkey: &str, created_at: u64, kind: u16, tags: &[&[&str]]) -> Event {
    Event {
        id: hex(id),
        pubkey: pubkey.to_string(),
        created_at,
        kind,
        tags: tags.iter().map(|t| t.iter().map(|s| s.to_string()).collect()).collect(),
        content: format!("event {id}"),
        sig: "0".repeat(128),
    }
}

/// Ids of events, in order.
pub fn ids(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.id.clone()).collect()
}

/// Ids for numbers, in order.
pub fn hexes(ns: &[u64]) -> Vec<String> {
    ns.iter().map(|n| hex(*n)).collect()
}

/// A filter with only `tags` set.
pub fn tag_filter(name: char, values: &[&str]) -> Filter {
    let mut f = Filter::default();
    f.tags.insert(name, values.iter().map(|s| s.to_string()).collect());
    f
}
