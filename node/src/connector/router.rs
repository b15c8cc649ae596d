//! The routing table: ILP address prefix → account, longest-prefix match (RFC 27 §Routing).
//!
//! Each prefix keeps a set of candidate next hops:
//! - **static** routes: configured ones, children, a parent's default route and the direct
//!   link to a btpnips peer (its own address, path = that address). Always preferred.
//! - **learned** routes, one per account that announced the prefix over CCP, with the
//!   announced path (ILP addresses of the nodes the route passes, nearest first).
//!
//! The best candidate of a prefix is: static before learned, then the shortest path, then
//! the smallest account id. Removing a candidate falls back to the next best at once. Every
//! change of a best route bumps [`RoutingTable::version`], wakes [`RoutingTable::subscribe`]rs
//! (the CCP broadcasters) and is logged at info.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, RwLock};

use protocol::ilp::Address;
use tokio::sync::watch;

/// The best route of one prefix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BestRoute {
    /// Next hop account.
    pub account: String,
    /// Addresses the route passes (nearest first); empty for configured static routes.
    pub path: Vec<String>,
    /// Whether it is a static (configured or direct-link) route.
    pub is_static: bool,
}

#[derive(Debug, Default, Clone)]
struct Entry {
    /// Static candidates: account → path.
    fixed: BTreeMap<String, Vec<String>>,
    /// CCP-learned candidates: account → path.
    learned: BTreeMap<String, Vec<String>>,
}

impl Entry {
    fn best(&self) -> Option<BestRoute> {
        let pick = |m: &BTreeMap<String, Vec<String>>| {
            // BTreeMap iterates by account id, so min_by_key keeps the smallest id on ties.
            m.iter().min_by_key(|(_, path)| path.len()).map(|(a, p)| (a.clone(), p.clone()))
        };
        if let Some((account, path)) = pick(&self.fixed) {
            return Some(BestRoute { account, path, is_static: true });
        }
        pick(&self.learned).map(|(account, path)| BestRoute { account, path, is_static: false })
    }

    fn is_empty(&self) -> bool {
        self.fixed.is_empty() && self.learned.is_empty()
    }
}

/// Routes by prefix. Reads are frequent and writes rare, hence the `RwLock` (never held
/// across an await).
pub struct RoutingTable {
    routes: RwLock<BTreeMap<String, Entry>>,
    /// Bumped on every change of a best route.
    version: watch::Sender<u64>,
    /// Per account that announced routes: until when (unix ms) they hold without a new update
    /// (its last update's hold-down time, CCP).
    held_until: Mutex<BTreeMap<String, u64>>,
}

impl Default for RoutingTable {
    fn default() -> Self {
        Self {
            routes: RwLock::new(BTreeMap::new()),
            version: watch::Sender::new(0),
            held_until: Mutex::new(BTreeMap::new()),
        }
    }
}

impl RoutingTable {
    /// Route `prefix` (an ILP address or address prefix) to `account` as a static route.
    pub fn set(&self, prefix: &str, account: &str) {
        self.set_with_path(prefix, account, Vec::new());
    }

    /// A static route with a path: the direct link to a btpnips peer is `[its address]`.
    pub fn set_with_path(&self, prefix: &str, account: &str, path: Vec<String>) {
        self.edit(|routes| {
            routes.entry(prefix.to_owned()).or_default().fixed.insert(account.to_owned(), path);
            vec![prefix.to_owned()]
        });
    }

    /// Install (or update) the route `account` announced for `prefix` over CCP.
    pub fn learn(&self, account: &str, prefix: &str, path: Vec<String>) {
        self.edit(|routes| {
            routes.entry(prefix.to_owned()).or_default().learned.insert(account.to_owned(), path);
            vec![prefix.to_owned()]
        });
    }

    /// Replace everything learned from `account` by `routes` (prefix → path): a full table
    /// from a peer; prefixes it no longer lists are gone.
    pub fn replace_learned(&self, account: &str, new: BTreeMap<String, Vec<String>>) {
        self.edit(|routes| {
            let mut touched = Vec::new();
            for (prefix, entry) in routes.iter_mut() {
                if !new.contains_key(prefix) && entry.learned.remove(account).is_some() {
                    touched.push(prefix.clone());
                }
            }
            for (prefix, path) in new {
                let entry = routes.entry(prefix.clone()).or_default();
                if entry.learned.get(account) != Some(&path) {
                    entry.learned.insert(account.to_owned(), path);
                    touched.push(prefix);
                }
            }
            touched
        });
    }

    /// `account` just sent a route update: what it announced holds until `until_ms` (unix
    /// ms; now plus the update's hold-down time) unless refreshed.
    pub fn hold_learned(&self, account: &str, until_ms: u64) {
        self.held_until.lock().expect("poisoned").insert(account.to_owned(), until_ms);
    }

    /// Drop the learned routes of every account whose hold-down time passed at `now_ms`
    /// (unix ms) without a new update (a peer whose link stays up but that stopped
    /// announcing). Static routes stay. Returns those accounts.
    pub fn expire_learned(&self, now_ms: u64) -> Vec<String> {
        let expired: Vec<String> = {
            let mut held = self.held_until.lock().expect("poisoned");
            let gone: Vec<String> =
                held.iter().filter(|(_, until)| **until <= now_ms).map(|(a, _)| a.clone()).collect();
            gone.iter().for_each(|a| {
                held.remove(a);
            });
            gone
        };
        for account in &expired {
            self.replace_learned(account, BTreeMap::new());
        }
        expired
    }

    /// Remove every route (static and learned) that points at `account`.
    pub fn remove_account(&self, account: &str) {
        self.held_until.lock().expect("poisoned").remove(account);
        self.edit(|routes| {
            let mut touched = Vec::new();
            for (prefix, entry) in routes.iter_mut() {
                let a = entry.fixed.remove(account).is_some();
                let b = entry.learned.remove(account).is_some();
                if a || b {
                    touched.push(prefix.clone());
                }
            }
            touched
        });
    }

    /// Remove the routes (static and learned) for exactly `prefix` that point at `account`.
    pub fn remove(&self, prefix: &str, account: &str) {
        self.edit(|routes| {
            if let Some(entry) = routes.get_mut(prefix) {
                let a = entry.fixed.remove(account).is_some();
                let b = entry.learned.remove(account).is_some();
                if a || b {
                    return vec![prefix.to_owned()];
                }
            }
            vec![]
        });
    }

    /// Withdraw the route `account` announced for `prefix` over CCP (static ones stay).
    pub fn withdraw(&self, account: &str, prefix: &str) {
        self.edit(|routes| match routes.get_mut(prefix).and_then(|e| e.learned.remove(account)) {
            Some(_) => vec![prefix.to_owned()],
            None => vec![],
        });
    }

    /// The account for `destination`: the route with the longest prefix that matches whole
    /// segments (`test.a` matches `test.a` and `test.a.b`, not `test.ab`).
    pub fn resolve(&self, destination: &Address) -> Option<String> {
        self.resolve_with_prefix(destination).map(|(_, account)| account)
    }

    /// Like [`RoutingTable::resolve`], also returning the matched prefix.
    pub fn resolve_with_prefix(&self, destination: &Address) -> Option<(String, String)> {
        let routes = self.routes.read().expect("poisoned");
        routes
            .iter()
            .filter(|(prefix, _)| destination.has_prefix(prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .and_then(|(prefix, entry)| entry.best().map(|b| (prefix.clone(), b.account)))
    }

    /// The best route of exactly `prefix`.
    pub fn best(&self, prefix: &str) -> Option<BestRoute> {
        self.routes.read().expect("poisoned").get(prefix).and_then(Entry::best)
    }

    /// Every prefix's best route.
    pub fn best_routes(&self) -> BTreeMap<String, BestRoute> {
        let routes = self.routes.read().expect("poisoned");
        routes.iter().filter_map(|(p, e)| e.best().map(|b| (p.clone(), b))).collect()
    }

    /// The best routes as prefix → account, for status output.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.best_routes().into_iter().map(|(p, b)| (p, b.account)).collect()
    }

    /// How many times a best route changed so far.
    pub fn version(&self) -> u64 {
        *self.version.borrow()
    }

    /// A receiver woken on every change of a best route.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Apply `change` (which returns the prefixes it touched), then log and announce the
    /// best routes that changed.
    fn edit(&self, change: impl FnOnce(&mut BTreeMap<String, Entry>) -> Vec<String>) {
        let mut changed = Vec::new();
        {
            let mut routes = self.routes.write().expect("poisoned");
            // Tables are small (a prefix per reachable node); a copy is cheap.
            let snapshot = routes.clone();
            let touched: BTreeSet<String> = change(&mut routes).into_iter().collect();
            for prefix in touched {
                let old = snapshot.get(&prefix).and_then(Entry::best);
                let new = routes.get(&prefix).and_then(Entry::best);
                if routes.get(&prefix).is_some_and(Entry::is_empty) {
                    routes.remove(&prefix);
                }
                if old != new {
                    changed.push((prefix, old, new));
                }
            }
        }
        if changed.is_empty() {
            return;
        }
        for (prefix, old, new) in &changed {
            match new {
                Some(b) => tracing::info!(
                    prefix = %prefix, next_hop = %b.account, path_len = b.path.len(), is_static = b.is_static,
                    previous = %old.as_ref().map_or("none", |o| o.account.as_str()),
                    "route changed"
                ),
                None => tracing::info!(
                    prefix = %prefix, previous = %old.as_ref().map_or("none", |o| o.account.as_str()),
                    "route removed"
                ),
            }
        }
        self.version.send_modify(|v| *v += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn longest_prefix_wins_on_segment_boundaries() {
        let t = RoutingTable::default();
        t.set("test.a", "A");
        t.set("test.a.b", "B");
        t.set("test", "default");
        let r = |s: &str| t.resolve(&s.parse().unwrap());
        assert_eq!(r("test.a.b.c"), Some("B".into()));
        assert_eq!(r("test.a.c"), Some("A".into()));
        assert_eq!(r("test.ab"), Some("default".into()));
        assert_eq!(r("g.x"), None);
        t.remove_account("B");
        assert_eq!(r("test.a.b.c"), Some("A".into()));
    }

    #[test]
    fn static_is_preferred_over_any_learned_route() {
        let t = RoutingTable::default();
        t.learn("a", "test.d", path(&["test.d"]));
        t.set_with_path("test.d", "z", path(&["test.d", "x", "y"]));
        assert_eq!(t.resolve(&"test.d.x".parse().unwrap()), Some("z".into()));
        assert!(t.best("test.d").unwrap().is_static);
        t.remove_account("z");
        assert_eq!(
            t.best("test.d").unwrap(),
            BestRoute { account: "a".into(), path: path(&["test.d"]), is_static: false }
        );
    }

    #[test]
    fn shortest_path_then_smallest_account_and_fallback_on_removal() {
        let t = RoutingTable::default();
        let v0 = t.version();
        t.learn("c", "test.d", path(&["test.x", "test.y", "test.d"]));
        t.learn("b", "test.d", path(&["test.b", "test.d"]));
        t.learn("a", "test.d", path(&["test.a", "test.d"]));
        assert_eq!(t.resolve(&"test.d".parse().unwrap()), Some("a".into()), "tie on length → smallest id");
        assert!(t.version() > v0);
        t.remove_account("a");
        assert_eq!(t.resolve(&"test.d".parse().unwrap()), Some("b".into()), "falls back at once");
        t.withdraw("b", "test.d");
        assert_eq!(t.best("test.d").map(|b| (b.account, b.path.len())), Some(("c".into(), 3)));
        t.remove("test.d", "c");
        assert_eq!(t.resolve(&"test.d".parse().unwrap()), None);
        assert!(t.snapshot().is_empty(), "empty prefixes are dropped");
    }

    #[test]
    fn a_full_table_replaces_what_the_account_announced_before() {
        let t = RoutingTable::default();
        t.set("test.s", "a");
        t.learn("a", "test.p", path(&["test.a", "test.p"]));
        t.learn("a", "test.q", path(&["test.a", "test.q"]));
        t.learn("b", "test.q", path(&["test.b", "test.x", "test.q"]));
        let mut full = BTreeMap::new();
        full.insert("test.r".to_string(), path(&["test.a", "test.r"]));
        t.replace_learned("a", full);
        let snap = t.snapshot();
        assert_eq!(snap.get("test.p"), None, "no longer listed: gone");
        assert_eq!(snap.get("test.q"), Some(&"b".to_string()), "falls back to b");
        assert_eq!(snap.get("test.r"), Some(&"a".to_string()));
        assert_eq!(snap.get("test.s"), Some(&"a".to_string()), "static routes stay");
    }

    #[test]
    fn learned_routes_expire_after_the_hold_down_time_without_an_update() {
        let t = RoutingTable::default();
        t.set("test.s", "a");
        t.learn("a", "test.p", path(&["test.a", "test.p"]));
        t.learn("b", "test.p", path(&["test.b", "test.x", "test.p"]));
        t.hold_learned("a", 1_000);
        t.hold_learned("b", 5_000);
        assert!(t.expire_learned(999).is_empty(), "nothing is due yet");
        assert_eq!(t.expire_learned(1_000), vec!["a".to_string()]);
        assert_eq!(t.snapshot().get("test.p"), Some(&"b".to_string()), "falls back to b's route");
        assert_eq!(t.snapshot().get("test.s"), Some(&"a".to_string()), "static routes stay");
        t.hold_learned("b", 9_000); // b refreshed in time
        assert!(t.expire_learned(6_000).is_empty());
        assert_eq!(t.expire_learned(9_000), vec!["b".to_string()]);
        assert_eq!(t.snapshot().get("test.p"), None);
    }

    #[test]
    fn unchanged_updates_do_not_bump_the_version() {
        let t = RoutingTable::default();
        t.learn("a", "test.p", path(&["test.p"]));
        let v = t.version();
        t.learn("a", "test.p", path(&["test.p"]));
        t.learn("b", "test.p", path(&["test.b", "test.p"]));
        t.withdraw("z", "test.p");
        assert_eq!(t.version(), v, "the best route did not change");
    }
}
