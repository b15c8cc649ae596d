//! Moving a node's whole state SQLite → PostgreSQL → SQLite (`btpnips db export` / `import`):
//! counts, balances and channel state the same at every step, the export byte for byte the
//! same from every backend, and the same REQ answers. Plus the online SQLite backup.
mod common;

use common::*;
use protocol::nostr::Filter;
use serde_json::json;
use storage::{
    ChannelRecord, ChannelStatus, DeliveredNewest, Direction, LedgerEntry, Op, PeerRecord, Storage, StorageError,
    SubscriptionRecord, SubscriptionStatus,
};

/// A node's worth of state: 400 events (regular, replaceable, addressable, tagged), a journal
/// over three accounts with debits and credits, subscriptions both ways, peers, channels, meta.
async fn populate(s: &Storage) {
    let mut ops = Vec::new();
    for i in 0..400u64 {
        let author = pk(['a', 'b', 'c', 'd'][(i % 4) as usize]);
        let (kind, tags): (u16, Vec<Vec<&str>>) = match i % 10 {
            0 => (0, vec![]),
            1 => (30023, vec![vec!["d", ["x", "y", "z"][(i % 3) as usize]]]),
            _ => (1, vec![vec!["e", ["t1", "t2"][(i % 2) as usize]], vec!["p", "q"]]),
        };
        let tags: Vec<&[&str]> = tags.iter().map(Vec::as_slice).collect();
        ops.push(Op::InsertEvent(ev(i, &author, 1_700_000_000 + i / 3, kind, &tags)));
    }
    s.writer().submit(ops).await.unwrap();
    let mut ops = Vec::new();
    for i in 0..300u64 {
        let account = ["peer-1", "peer-2", "settlement"][(i % 3) as usize];
        let delta = if i % 4 == 0 { -(i as i64) } else { 10 * i as i64 };
        ops.push(Op::Ledger(LedgerEntry {
            account: account.into(),
            asset_code: "USD".into(),
            asset_scale: 6,
            delta,
            reference: format!("ref-{i}"),
            memo: format!("in:{i}"),
            created_at: 1_700_000_000 + i,
        }));
    }
    s.writer().submit(ops).await.unwrap();
    let mut f = Filter { kinds: Some(vec![1]), authors: Some(vec![pk('a')]), limit: Some(10), ..Filter::default() };
    f.tags.insert('e', vec!["t1".into()]);
    let sub = |direction, peer: &str, id: &str| SubscriptionRecord {
        direction,
        peer: peer.into(),
        subscription_id: id.into(),
        filters: vec![f.clone()],
        stream_id: 5,
        amount_paid: 1_000,
        events_delivered: 33,
        paid_until: 1_700_003_600,
        periods_paid: 1,
        status: SubscriptionStatus::Active,
        revision: 4,
        created_at: 1_700_000_000,
        updated_at: 1_700_000_100,
        delivered_newest: Some(DeliveredNewest { created_at: 1_700_000_099, ids: vec![hex(7)] }),
    };
    let channel = |direction, id: u8| ChannelRecord {
        peer: "peer-1".into(),
        direction,
        channel_id: format!("0x{}", format!("{id:02x}").repeat(32)),
        chain_id: 31337,
        contract: "0x5fbdb2315678afecb367f032d93f642f64180aa3".into(),
        sender: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8".into(),
        recipient: "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266".into(),
        deposit: "1000000000000000000000".into(),
        expiry: 1_900_000_000,
        claimed: "123456789012345678901".into(),
        signature: Some(format!("0x{}", "11".repeat(65))),
        status: ChannelStatus::Open,
        revision: 9,
        updated_at: 1_700_000_200,
    };
    let peer = PeerRecord {
        account_id: "peer-1".into(),
        pubkey: pk('1'),
        ilp_address: "g.btpnips.peer1".into(),
        url: Some("ws://127.0.0.1:7790".into()),
        asset_code: "USD".into(),
        asset_scale: 6,
        prices: json!({"subscription": 1000, "event": 10}),
        last_seen: 1_700_000_300,
    };
    s.writer()
        .submit(vec![
            Op::UpsertSubscription(sub(Direction::Inbound, "peer-1", "feed")),
            Op::UpsertSubscription(sub(Direction::Outbound, "peer-2", "Follow")),
            Op::UpsertPeer(peer.clone()),
            Op::UpsertPeer(PeerRecord { account_id: "Peer-0".into(), url: None, ..peer }),
            Op::UpsertChannel(channel(Direction::Inbound, 0xab)),
            Op::UpsertChannel(ChannelRecord { status: ChannelStatus::Closed, ..channel(Direction::Outbound, 0x0c) }),
            Op::SetMeta { key: "node_version".into(), value: "1".into() },
            Op::SetMeta { key: "Announce".into(), value: "{\"seq\":3}".into() },
        ])
        .await
        .unwrap();
}

/// REQ answers that must be the same on every backend.
async fn answers(s: &Storage) -> Vec<Vec<String>> {
    let mut tag = Filter { limit: Some(20), ..Filter::default() };
    tag.tags.insert('e', vec!["t2".into()]);
    let filters = [
        Filter::default(),
        Filter { kinds: Some(vec![0]), ..Filter::default() },
        Filter { kinds: Some(vec![30023]), authors: Some(vec![pk('b')]), ..Filter::default() },
        tag,
        Filter { since: Some(1_700_000_050), until: Some(1_700_000_060), ..Filter::default() },
    ];
    let mut out = Vec::new();
    for f in filters {
        out.push(ids(&s.query_events(&[f]).await.unwrap()));
    }
    out
}

async fn export(s: &Storage) -> Vec<u8> {
    let mut buf = Vec::new();
    s.export(&mut buf).await.unwrap();
    buf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_to_sqlite_keeps_every_count_balance_and_channel() {
    let (_a, sqlite) = open(Backend::Sqlite).await;
    populate(&sqlite).await;
    let before = sqlite.summary().await.unwrap();
    // Kind 0 from 2 authors, kind 30023 under 6 (author, d) keys: 38 and 34 replaced.
    assert_eq!(before.events, 400 - 38 - 34, "replaceable and addressable events kept once per key");
    assert_eq!(before.ledger_entries, 300);
    assert_eq!(before.accounts.len(), 3);
    let file = export(&sqlite).await;
    let want = answers(&sqlite).await;

    let (_b, pg) = open(Backend::Postgres).await;
    let counts = pg.import(&file[..]).await.unwrap();
    assert_eq!(counts.events, before.events);
    assert_eq!(pg.summary().await.unwrap(), before, "SQLite → PostgreSQL changed the state");
    assert_eq!(answers(&pg).await, want, "PostgreSQL answers REQs differently");
    let from_pg = export(&pg).await;
    assert_eq!(String::from_utf8_lossy(&from_pg), String::from_utf8_lossy(&file), "exports differ");

    let (_c, back) = open(Backend::Sqlite).await;
    back.import(&from_pg[..]).await.unwrap();
    assert_eq!(back.summary().await.unwrap(), before, "PostgreSQL → SQLite changed the state");
    assert_eq!(answers(&back).await, want);

    // An import never merges into a database that holds state.
    match pg.import(&file[..]).await {
        Err(StorageError::Transfer(why)) => assert!(why.contains("not empty"), "{why}"),
        other => panic!("import into a non-empty database: {other:?}"),
    }
    // A line that is not a record names its line.
    let (_d, empty) = open(Backend::Sqlite).await;
    let bad = b"{\"type\":\"header\",\"format\":\"btpnips-export\",\"version\":1}\n{\"type\":\"event\"}\n";
    match empty.import(&bad[..]).await {
        Err(StorageError::Transfer(why)) => assert!(why.starts_with("line 2"), "{why}"),
        other => panic!("bad line: {other:?}"),
    }
}

/// `db backup` copies a SQLite database while a writer keeps writing: the copy opens, holds
/// a consistent state (every event committed before the copy began) and is not the original.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_sqlite_backup_is_a_consistent_copy() {
    let (db, s) = open(Backend::Sqlite).await;
    populate(&s).await;
    let Db::Sqlite(dir, path) = &db else { unreachable!() };
    let dest = dir.path().join("copy.sqlite");
    let writer = s.clone();
    let writing = tokio::spawn(async move {
        for i in 1000..1200u64 {
            writer.writer().insert_event(ev(i, &pk('e'), 1_800_000_000, 1, &[])).await.unwrap();
        }
    });
    Storage::backup_sqlite(path, &dest).await.unwrap();
    writing.await.unwrap();
    let copy = Storage::open_sqlite(&dest).await.unwrap();
    let summary = copy.summary().await.unwrap();
    assert!((328..=528).contains(&summary.events), "{}", summary.events);
    assert_eq!(summary.ledger_entries, 300);
    assert_eq!(summary.accounts, s.summary().await.unwrap().accounts);
    assert!(matches!(Storage::backup_sqlite(path, &dest).await, Err(StorageError::Transfer(_))), "overwrote");
    copy.close().await;
}
