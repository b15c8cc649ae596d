//! Second step: Prepares from a peer to `peer.*` are for this node's peer protocols, not for
//! forwarding:
//!
//! - IL-DCP (RFC 31) `peer.config`, served to child accounts only (else F00): the child's
//!   address is ours plus its account id (F00 if the id is not an address segment), with our
//!   asset code and scale;
//! - CCP `peer.route.control` / `peer.route.update` (the route-broadcasting draft), handed to
//!   the CCP port (see `ccp.rs`);
//! - any other `peer.*` address: F02 Unreachable.
//!
//! Prepares from this node's own sender and to other schemes go to `next` unchanged.
use protocol::ildcp;
use protocol::ilp::{Address, ErrorCode, Prepare};

use super::service::{reject_at, IlpResult, IncomingRequest, IncomingService};
use super::Source;

/// What the peer-protocol step needs of the node.
pub trait PeerProtocols: Send + Sync {
    /// Whether `account` is a configured child (relation `child`), the only accounts IL-DCP
    /// answers.
    fn is_child(&self, account: &str) -> bool;
    /// Handle a CCP `peer.route.*` Prepare from `account` (F00 for accounts that do not
    /// exchange routes, the decoder's code for a malformed request).
    fn route_broadcast(&self, account: &str, prepare: &Prepare) -> IlpResult;
}

/// The node's asset, as IL-DCP announces it (RFC 31).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Asset code, e.g. "USD".
    pub code: String,
    /// Asset scale: one asset unit is 10^-scale of the asset.
    pub scale: u8,
}

/// The peer-protocol step; see the module doc.
pub struct PeerProtocol<N, P> {
    next: N,
    protocols: P,
    address: Address,
    asset: Asset,
}

impl<N, P: PeerProtocols> PeerProtocol<N, P> {
    /// The step at `address` (our ILP address: children get `<address>.<account id>`).
    pub fn new(address: Address, asset: Asset, protocols: P, next: N) -> Self {
        Self { next, protocols, address, asset }
    }

    fn reject(&self, code: ErrorCode, message: &str) -> protocol::ilp::Reject {
        reject_at(&self.address, code, message)
    }

    fn handle(&self, account: &str, prepare: &Prepare) -> IlpResult {
        if ildcp::is_ildcp_request(prepare) {
            if !self.protocols.is_child(account) {
                return Err(self.reject(ErrorCode::F00_BAD_REQUEST, "IL-DCP is only served to child accounts"));
            }
            let client_address = self.address.with_suffix(account).map_err(|e| {
                self.reject(ErrorCode::F00_BAD_REQUEST, &format!("account id is not an address segment: {e}"))
            })?;
            let response = ildcp::IldcpResponse {
                client_address,
                asset_scale: self.asset.scale,
                asset_code: self.asset.code.clone(),
            };
            return Ok(ildcp::fulfill(&response));
        }
        if protocol::ccp::is_control(prepare) || protocol::ccp::is_update(prepare) {
            return self.protocols.route_broadcast(account, prepare);
        }
        Err(self.reject(ErrorCode::F02_UNREACHABLE, &format!("no handler for {}", prepare.destination)))
    }
}

impl<N: IncomingService, P: PeerProtocols> IncomingService for PeerProtocol<N, P> {
    async fn handle_request(&self, request: IncomingRequest) -> IlpResult {
        if let Source::Peer(account) = &request.from {
            if request.prepare.destination.scheme() == "peer" {
                return self.handle(account, &request.prepare);
            }
        }
        self.next.handle_request(request).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use protocol::ccp::{Mode, RouteControlRequest};
    use protocol::ilp::Fulfill;

    use super::super::service::testing::*;
    use super::*;

    #[derive(Default)]
    struct Protocols {
        ccp_calls: Mutex<Vec<(String, Address)>>,
    }

    impl PeerProtocols for Protocols {
        fn is_child(&self, account: &str) -> bool {
            account == "kid"
        }
        fn route_broadcast(&self, account: &str, prepare: &Prepare) -> IlpResult {
            self.ccp_calls.lock().unwrap().push((account.to_owned(), prepare.destination.clone()));
            Ok(Fulfill { fulfillment: [1; 32], data: vec![] })
        }
    }

    fn step<N: IncomingService>(next: N) -> PeerProtocol<N, Protocols> {
        let asset = Asset { code: "USD".into(), scale: 6 };
        PeerProtocol::new(me(), asset, Protocols::default(), next)
    }

    fn ildcp_request() -> Prepare {
        ildcp::request(crate::clock::now() + chrono::Duration::seconds(30))
    }

    #[tokio::test]
    async fn ildcp_gives_a_child_its_address_and_our_asset() {
        let (seen, next) = recording_incoming();
        let f = step(next).handle_request(from_peer("kid", ildcp_request())).await.unwrap();
        let response = ildcp::IldcpResponse::decode(&f.data).unwrap();
        assert_eq!(response.client_address.as_str(), "test.me.kid");
        assert_eq!((response.asset_code.as_str(), response.asset_scale), ("USD", 6));
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn ildcp_from_a_non_child_is_f00() {
        let (_, next) = recording_incoming();
        let r = step(next).handle_request(from_peer("stranger", ildcp_request())).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::F00_BAD_REQUEST);
        assert_eq!(r.message, "IL-DCP is only served to child accounts");
        assert_eq!(r.triggered_by, Some(me()));
    }

    #[tokio::test]
    async fn ccp_goes_to_the_ccp_port() {
        let (seen, next) = recording_incoming();
        let service = step(next);
        let req = RouteControlRequest {
            mode: Mode::Sync,
            last_known_routing_table_id: [0; 16],
            last_known_epoch: 0,
            features: vec![],
        };
        let prepare = protocol::ccp::control_prepare(&req, crate::clock::now() + chrono::Duration::seconds(30));
        let f = service.handle_request(from_peer("peer1", prepare.clone())).await.unwrap();
        assert_eq!(f.fulfillment, [1; 32]);
        assert_eq!(*service.protocols.ccp_calls.lock().unwrap(), vec![("peer1".to_owned(), prepare.destination)]);
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn other_peer_addresses_are_f02() {
        let (seen, next) = recording_incoming();
        let r = step(next).handle_request(from_peer("kid", prepare("peer.unknown", 0, 5_000))).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::F02_UNREACHABLE);
        assert_eq!(r.message, "no handler for peer.unknown");
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn local_and_non_peer_prepares_pass_unchanged() {
        let (seen, next) = recording_incoming();
        let service = step(next);
        let local = IncomingRequest { from: Source::Local, prepare: prepare("peer.config", 0, 5_000) };
        let routed = from_peer("kid", prepare("test.elsewhere", 5, 5_000));
        for request in [local, routed] {
            assert!(service.handle_request(request.clone()).await.is_ok());
            assert_eq!(seen.lock().unwrap().last(), Some(&request));
        }
        assert!(service.protocols.ccp_calls.lock().unwrap().is_empty());
    }
}
