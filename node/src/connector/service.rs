//! The one interface every connector step implements (after interledger-rs'
//! `interledger-service`): a step takes a request holding an ILP Prepare (RFC 27 §3.1) and
//! answers, asynchronously, with the Fulfill or the Reject ([`IlpResult`]).
//!
//! Incoming steps ([`IncomingService`]) see a Prepare before its next hop is known; once the
//! router has chosen the next hop the request becomes an [`OutgoingRequest`] and passes the
//! [`OutgoingService`] steps. A step either answers itself (a Reject, or a Fulfill for a
//! packet addressed to it) or hands the request, possibly changed, to its `next` service.
//!
//! For tests, [`incoming_service_fn`] and [`outgoing_service_fn`] turn a closure into a
//! terminal service.
use std::future::Future;

use protocol::ilp::{Address, ErrorCode, Fulfill, Prepare, Reject};

use super::Source;

/// What a step answers: the Fulfill, or the Reject (RFC 27 §3.2, §3.3).
pub type IlpResult = Result<Fulfill, Reject>;

/// A Prepare as it arrived, before the next hop is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingRequest {
    /// Where it came from: a peer link (account id) or this node's own STREAM sender.
    pub from: Source,
    /// The Prepare; `amount` in the node's asset units, `expires_at` as received.
    pub prepare: Prepare,
}

impl IncomingRequest {
    /// The request addressed to the next hop `to` (an account id), with
    /// `original_amount` = the incoming Prepare's amount (asset units).
    pub fn into_outgoing(self, to: String) -> OutgoingRequest {
        OutgoingRequest { from: self.from, to, original_amount: self.prepare.amount, prepare: self.prepare }
    }
}

/// A Prepare on its way to the next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    /// Where it came from.
    pub from: Source,
    /// The next hop: the account id of the link it goes out on.
    pub to: String,
    /// The amount of the Prepare as it arrived at this node (asset units), before any fee.
    pub original_amount: u64,
    /// The Prepare to send; after the forward step: amount net of our fee, expiry lowered.
    pub prepare: Prepare,
}

/// A step that handles Prepares before the next hop is chosen.
pub trait IncomingService: Send + Sync {
    /// Handle one Prepare: answer it, or pass it on to the next service.
    fn handle_request(&self, request: IncomingRequest) -> impl Future<Output = IlpResult> + Send;
}

/// A step that handles Prepares whose next hop is known.
pub trait OutgoingService: Send + Sync {
    /// Send one Prepare towards `request.to`: answer it, or pass it on to the next service.
    fn send_request(&self, request: OutgoingRequest) -> impl Future<Output = IlpResult> + Send;
}

/// A Reject triggered by the node at `address` (RFC 27 §3.3: `triggeredBy` is our address),
/// with empty data.
pub fn reject_at(address: &Address, code: ErrorCode, message: &str) -> Reject {
    Reject { code, triggered_by: Some(address.clone()), message: message.to_owned(), data: vec![] }
}

/// An [`IncomingService`] that answers every request with `handler(request)`.
pub fn incoming_service_fn<F>(handler: F) -> ServiceFn<F>
where
    F: Fn(IncomingRequest) -> IlpResult + Send + Sync,
{
    ServiceFn { handler }
}

/// An [`OutgoingService`] that answers every request with `handler(request)`.
pub fn outgoing_service_fn<F>(handler: F) -> ServiceFn<F>
where
    F: Fn(OutgoingRequest) -> IlpResult + Send + Sync,
{
    ServiceFn { handler }
}

/// A service made of a closure, by [`incoming_service_fn`] or [`outgoing_service_fn`].
#[derive(Clone)]
pub struct ServiceFn<F> {
    handler: F,
}

impl<F> IncomingService for ServiceFn<F>
where
    F: Fn(IncomingRequest) -> IlpResult + Send + Sync,
{
    fn handle_request(&self, request: IncomingRequest) -> impl Future<Output = IlpResult> + Send {
        std::future::ready((self.handler)(request))
    }
}

impl<F> OutgoingService for ServiceFn<F>
where
    F: Fn(OutgoingRequest) -> IlpResult + Send + Sync,
{
    fn send_request(&self, request: OutgoingRequest) -> impl Future<Output = IlpResult> + Send {
        std::future::ready((self.handler)(request))
    }
}

/// Test helpers shared by the steps' tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, Mutex};

    use protocol::ilp::{condition_of, Address, Fulfill, Prepare};

    use super::*;

    /// The address the steps under test run at.
    pub fn me() -> Address {
        "test.me".parse().expect("valid address")
    }

    /// The fulfillment every test packet is made with.
    pub const FULFILLMENT: [u8; 32] = [7; 32];

    /// A Prepare of `amount` to `destination`, expiring `expires_in_ms` from now, whose
    /// condition is SHA-256 of [`FULFILLMENT`].
    pub fn prepare(destination: &str, amount: u64, expires_in_ms: i64) -> Prepare {
        Prepare {
            amount,
            expires_at: crate::clock::now() + chrono::Duration::milliseconds(expires_in_ms),
            execution_condition: condition_of(&FULFILLMENT),
            destination: destination.parse().expect("valid address"),
            data: b"payload".to_vec(),
        }
    }

    /// The Fulfill matching [`prepare`]'s condition.
    pub fn fulfill() -> Fulfill {
        Fulfill { fulfillment: FULFILLMENT, data: b"answer".to_vec() }
    }

    /// An incoming request from peer `account`.
    pub fn from_peer(account: &str, prepare: Prepare) -> IncomingRequest {
        IncomingRequest { from: Source::Peer(account.to_owned()), prepare }
    }

    /// A terminal incoming service that records what reached it and fulfills it.
    pub fn recording_incoming() -> (Arc<Mutex<Vec<IncomingRequest>>>, impl IncomingService) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let service = incoming_service_fn(move |r| {
            log.lock().expect("poisoned").push(r);
            Ok(fulfill())
        });
        (seen, service)
    }

    /// A terminal outgoing service that records what reached it and fulfills it.
    pub fn recording_outgoing() -> (Arc<Mutex<Vec<OutgoingRequest>>>, impl OutgoingService) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let service = outgoing_service_fn(move |r| {
            log.lock().expect("poisoned").push(r);
            Ok(fulfill())
        });
        (seen, service)
    }
}
