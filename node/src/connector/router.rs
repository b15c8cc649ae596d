//! The routing table: ILP address prefix → account, longest-prefix match (RFC 27 §Routing).
use std::collections::BTreeMap;
use std::sync::RwLock;

use protocol::ilp::Address;

/// Routes by prefix. Reads are frequent and writes rare, hence the `RwLock` (never held
/// across an await).
#[derive(Default)]
pub struct RoutingTable {
    routes: RwLock<BTreeMap<String, String>>,
}

impl RoutingTable {
    /// Route `prefix` (an ILP address or address prefix) to `account`.
    pub fn set(&self, prefix: &str, account: &str) {
        self.routes.write().expect("poisoned").insert(prefix.to_owned(), account.to_owned());
    }

    /// Remove every route that points at `account`.
    pub fn remove_account(&self, account: &str) {
        self.routes.write().expect("poisoned").retain(|_, a| a != account);
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
            .map(|(prefix, account)| (prefix.clone(), account.clone()))
    }

    /// Remove the route for exactly `prefix` if it points at `account`.
    pub fn remove(&self, prefix: &str, account: &str) {
        let mut routes = self.routes.write().expect("poisoned");
        if routes.get(prefix).is_some_and(|a| a == account) {
            routes.remove(prefix);
        }
    }

    /// A copy of all routes, for status output.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.routes.read().expect("poisoned").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
