//! Third step: where a Prepare goes (RFC 27 §"Routing": longest-prefix match).
//!
//! - to the local STREAM endpoint when the destination is under one of this node's own
//!   addresses and no route has a longer prefix (the endpoint checks credit itself, once it
//!   knows the packet is fulfillable);
//! - else to the next hop of the longest matching route, as an [`OutgoingRequest`] to the
//!   `next` service.
//!
//! F02 Unreachable: a `peer.*` destination (never forwarded), no route, or a route that
//! points back to the account the Prepare came from.
use std::future::Future;

use protocol::ilp::{Address, ErrorCode, Prepare};

use super::service::{reject_at, IlpResult, IncomingRequest, IncomingService, OutgoingService};
use super::Source;

/// The routing table and this node's own addresses.
pub trait Routes: Send + Sync {
    /// The longest prefix routing `destination` and its best next hop: `(prefix, account)`.
    fn resolve(&self, destination: &Address) -> Option<(String, String)>;
    /// Which of this node's addresses `destination` falls under, if any.
    fn local_prefix(&self, destination: &Address) -> Option<Address>;
}

/// The local STREAM endpoint (RFC 29), for Prepares to this node's addresses.
pub trait LocalEndpoint: Send + Sync {
    /// Deliver `prepare` to the receiver under our address `local`: F02 when no receiver
    /// lives at the address, else what the receiver answers.
    fn receive(&self, from: Source, prepare: Prepare, local: Address) -> impl Future<Output = IlpResult> + Send;
}

/// The route step; see the module doc.
pub struct Route<N, R, L> {
    next: N,
    routes: R,
    local: L,
    address: Address,
}

impl<N, R, L> Route<N, R, L> {
    /// The step at `address`, routing by `routes`, delivering locally to `local` and
    /// forwarding to `next`.
    pub fn new(address: Address, routes: R, local: L, next: N) -> Self {
        Self { next, routes, local, address }
    }
}

impl<N: OutgoingService, R: Routes, L: LocalEndpoint> IncomingService for Route<N, R, L> {
    async fn handle_request(&self, request: IncomingRequest) -> IlpResult {
        let destination = &request.prepare.destination;
        let route = self.routes.resolve(destination);
        let local = self.routes.local_prefix(destination);
        if let Some(local) = local.filter(|l| route.as_ref().is_none_or(|(prefix, _)| prefix.len() <= l.as_str().len()))
        {
            return self.local.receive(request.from, request.prepare, local).await;
        }
        if destination.scheme() == "peer" {
            return Err(reject_at(&self.address, ErrorCode::F02_UNREACHABLE, "peer.* addresses are not forwarded"));
        }
        let Some((_, account)) = route else {
            let message = format!("no route to {destination}");
            return Err(reject_at(&self.address, ErrorCode::F02_UNREACHABLE, &message));
        };
        if request.from == Source::Peer(account.clone()) {
            return Err(reject_at(&self.address, ErrorCode::F02_UNREACHABLE, "route points back to the sender"));
        }
        self.next.send_request(request.into_outgoing(account)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::super::service::testing::*;
    use super::super::service::OutgoingRequest;
    use super::*;

    /// Routes by prefix (longest wins); our addresses are `test.me` and `test.parent.me`.
    struct Table(Vec<(&'static str, &'static str)>);

    impl Routes for Table {
        fn resolve(&self, destination: &Address) -> Option<(String, String)> {
            self.0
                .iter()
                .filter(|(prefix, _)| destination.has_prefix(prefix))
                .max_by_key(|(prefix, _)| prefix.len())
                .map(|(p, a)| (p.to_string(), a.to_string()))
        }
        fn local_prefix(&self, destination: &Address) -> Option<Address> {
            ["test.me", "test.parent.me"].into_iter().find(|p| destination.has_prefix(p)).map(|p| p.parse().unwrap())
        }
    }

    #[derive(Default, Clone)]
    struct Local(Arc<Mutex<Vec<(Source, Address, Address)>>>);

    impl LocalEndpoint for Local {
        async fn receive(&self, from: Source, prepare: Prepare, local: Address) -> IlpResult {
            self.0.lock().unwrap().push((from, prepare.destination, local));
            Ok(fulfill())
        }
    }

    type Seen = Arc<Mutex<Vec<OutgoingRequest>>>;

    fn step(routes: Vec<(&'static str, &'static str)>) -> (Route<impl OutgoingService, Table, Local>, Seen, Local) {
        let (seen, next) = recording_outgoing();
        let local = Local::default();
        (Route::new(me(), Table(routes), local.clone(), next), seen, local)
    }

    #[tokio::test]
    async fn own_address_goes_to_the_local_endpoint() {
        let (service, seen, local) = step(vec![("", "parent"), ("test.me", "nobody")]);
        let request = from_peer("bob", prepare("test.me.abc", 5, 5_000));
        assert!(service.handle_request(request).await.is_ok());
        let delivered = local.0.lock().unwrap().clone();
        assert_eq!(delivered, vec![(Source::Peer("bob".into()), "test.me.abc".parse().unwrap(), me())]);
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn parent_assigned_address_is_local_too() {
        let (service, _, local) = step(vec![("", "parent")]);
        let request = IncomingRequest { from: Source::Local, prepare: prepare("test.parent.me.x", 5, 5_000) };
        assert!(service.handle_request(request).await.is_ok());
        assert_eq!(local.0.lock().unwrap()[0].2.as_str(), "test.parent.me");
    }

    #[tokio::test]
    async fn a_longer_route_wins_over_the_local_prefix() {
        let (service, seen, local) = step(vec![("test.me.child", "child")]);
        let request = from_peer("bob", prepare("test.me.child.x", 5, 5_000));
        assert!(service.handle_request(request.clone()).await.is_ok());
        assert!(local.0.lock().unwrap().is_empty());
        let out = seen.lock().unwrap()[0].clone();
        assert_eq!(out, request.into_outgoing("child".into()));
    }

    #[tokio::test]
    async fn routed_prepare_goes_out_unchanged_to_the_longest_match() {
        let (service, seen, _) = step(vec![("", "parent"), ("test.other", "peer1"), ("test.other.deep", "peer2")]);
        let request = from_peer("bob", prepare("test.other.deep.x", 42, 5_000));
        assert!(service.handle_request(request.clone()).await.is_ok());
        let out = seen.lock().unwrap()[0].clone();
        assert_eq!((out.to.as_str(), out.original_amount), ("peer2", 42));
        assert_eq!((out.from, out.prepare), (request.from, request.prepare));
    }

    #[tokio::test]
    async fn no_route_is_f02() {
        let (service, seen, _) = step(vec![("test.other", "peer1")]);
        let r = service.handle_request(from_peer("bob", prepare("test.nowhere", 1, 5_000))).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::F02_UNREACHABLE);
        assert_eq!(r.message, "no route to test.nowhere");
        assert_eq!(r.triggered_by, Some(me()));
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn peer_addresses_are_not_forwarded() {
        let (service, seen, _) = step(vec![("", "parent")]);
        let request = IncomingRequest { from: Source::Local, prepare: prepare("peer.config", 0, 5_000) };
        let r = service.handle_request(request).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::F02_UNREACHABLE);
        assert_eq!(r.message, "peer.* addresses are not forwarded");
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_route_back_to_the_sender_is_f02() {
        let (service, seen, _) = step(vec![("test.other", "bob")]);
        let r = service.handle_request(from_peer("bob", prepare("test.other.x", 1, 5_000))).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::F02_UNREACHABLE);
        assert_eq!(r.message, "route points back to the sender");
        assert!(seen.lock().unwrap().is_empty());
    }
}
