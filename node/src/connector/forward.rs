//! Forwarding a Prepare to its next hop, in two steps around the balance step:
//!
//! [`Forward`] (before `balance`) prepares the outgoing packet: T01 when the next hop's link
//! is down; the expiry lowered by [`EXPIRY_MARGIN`] for a peer's Prepare (RFC 34
//! telescoping: the upstream hop keeps time to pass the Fulfill back) and capped at now +
//! [`MAX_HOLD`], R02 when no time is left; the fee ([`fee`]) taken off a peer's Prepare, R01
//! when it eats the whole amount. This node's own Prepares keep their amount and expiry.
//!
//! [`SendOnLink`] (after `balance`) sends it on the link and waits until the outgoing expiry
//! (R00 when no reply came by then, T01 when the link failed), passes the peer's Reject back
//! unchanged and refuses a Fulfill whose SHA-256(fulfillment) is not the condition (F05,
//! RFC 27 §3.2), so only valid Fulfills reach the balance step.
use std::future::Future;
use std::time::Duration;

use protocol::ilp::{condition_of, Address, ErrorCode, Prepare};

use super::service::{reject_at, IlpResult, OutgoingRequest, OutgoingService};
use super::{Source, EXPIRY_MARGIN, MAX_HOLD};
use crate::config::FeeConfig;
use crate::link::LinkError;

/// The node's live peer links.
pub trait Links: Send + Sync {
    /// Whether a link to `account` is up.
    fn is_up(&self, account: &str) -> bool;
    /// Send `prepare` on `account`'s link and wait at most `wait` for the ILP reply.
    ///
    /// Errors: [`LinkError`] when no ILP reply came (no link or closed, timeout, BTP error).
    fn send_prepare(
        &self,
        account: &str,
        prepare: Prepare,
        wait: Duration,
    ) -> impl Future<Output = Result<IlpResult, LinkError>> + Send;
}

/// The fee on a forwarded amount (asset units): `fixed + amount × bps / 10 000`, rounded
/// down, for non-zero amounts only.
pub fn fee(config: &FeeConfig, amount: u64) -> u64 {
    if amount == 0 {
        return 0;
    }
    config.fixed.saturating_add(((amount as u128 * config.basis_points as u128) / 10_000) as u64)
}

/// The step that lowers the expiry and takes the fee; see the module doc.
pub struct Forward<N, L> {
    next: N,
    links: L,
    fee: FeeConfig,
    address: Address,
}

impl<N, L> Forward<N, L> {
    /// The step at `address`, charging `fee` on peers' Prepares, checking `links`.
    pub fn new(address: Address, fee: FeeConfig, links: L, next: N) -> Self {
        Self { next, links, fee, address }
    }
}

impl<N: OutgoingService, L: Links> OutgoingService for Forward<N, L> {
    async fn send_request(&self, mut request: OutgoingRequest) -> IlpResult {
        if !self.links.is_up(&request.to) {
            return Err(reject_at(&self.address, ErrorCode::T01_PEER_UNREACHABLE, "peer link is down"));
        }
        let prepare = &mut request.prepare;
        let now = crate::clock::now();
        let hold = chrono::Duration::from_std(MAX_HOLD).expect("small");
        let margin = chrono::Duration::from_std(EXPIRY_MARGIN).expect("small");
        let outgoing_expiry =
            if request.from == Source::Local { prepare.expires_at } else { prepare.expires_at - margin };
        let outgoing_expiry = outgoing_expiry.min(now + hold);
        if outgoing_expiry <= now {
            return Err(reject_at(
                &self.address,
                ErrorCode::R02_INSUFFICIENT_TIMEOUT,
                "not enough time left to forward",
            ));
        }
        let incoming_amount = prepare.amount;
        if request.from != Source::Local {
            let fee = fee(&self.fee, incoming_amount);
            if fee > 0 && fee >= incoming_amount {
                return Err(reject_at(
                    &self.address,
                    ErrorCode::R01_INSUFFICIENT_SOURCE_AMOUNT,
                    &format!("amount {incoming_amount} does not cover the fee {fee}"),
                ));
            }
            prepare.amount = incoming_amount - fee;
        }
        prepare.expires_at = outgoing_expiry;
        self.next.send_request(request).await
    }
}

/// The step that sends on the link and checks the fulfillment; see the module doc.
pub struct SendOnLink<L> {
    links: L,
    address: Address,
}

impl<L> SendOnLink<L> {
    /// The step at `address`, sending on `links`.
    pub fn new(address: Address, links: L) -> Self {
        Self { links, address }
    }
}

impl<L: Links> OutgoingService for SendOnLink<L> {
    async fn send_request(&self, request: OutgoingRequest) -> IlpResult {
        let OutgoingRequest { to, prepare, .. } = request;
        let wait = (prepare.expires_at - crate::clock::now()).to_std().unwrap_or_default();
        let condition = prepare.execution_condition;
        let fulfill = match self.links.send_prepare(&to, prepare, wait).await {
            Ok(Ok(f)) => f,
            Ok(Err(r)) => return Err(r),
            Err(LinkError::Timeout) => {
                return Err(reject_at(&self.address, ErrorCode::R00_TRANSFER_TIMED_OUT, "no reply before expiry"))
            }
            Err(e) => return Err(reject_at(&self.address, ErrorCode::T01_PEER_UNREACHABLE, &e.to_string())),
        };
        if condition_of(&fulfill.fulfillment) != condition {
            tracing::warn!(peer = %to, "fulfillment does not match the condition; rejecting");
            return Err(reject_at(
                &self.address,
                ErrorCode::F05_WRONG_CONDITION,
                "fulfillment did not match the execution condition",
            ));
        }
        Ok(fulfill)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use protocol::ilp::{Fulfill, Reject};

    use super::super::service::testing::*;
    use super::super::service::IncomingRequest;
    use super::*;

    /// How the stub link answers.
    #[derive(Clone)]
    enum Answer {
        Fulfill(Fulfill),
        Reject(Reject),
        /// Wait the whole `wait`, then time out (as `LinkHandle::send_prepare` does).
        Silence,
        Closed,
    }

    /// One link, to `next`, answering with `answer`; records what was sent and the wait.
    #[derive(Clone)]
    struct Link {
        up: bool,
        answer: Answer,
        sent: Arc<Mutex<Vec<(String, Prepare, Duration)>>>,
    }

    impl Link {
        fn answering(answer: Answer) -> Self {
            Self { up: true, answer, sent: Default::default() }
        }
    }

    impl Links for Link {
        fn is_up(&self, account: &str) -> bool {
            self.up && account == "next"
        }
        async fn send_prepare(&self, account: &str, prepare: Prepare, wait: Duration) -> Result<IlpResult, LinkError> {
            self.sent.lock().unwrap().push((account.to_owned(), prepare, wait));
            match self.answer.clone() {
                Answer::Fulfill(f) => Ok(Ok(f)),
                Answer::Reject(r) => Ok(Err(r)),
                Answer::Silence => {
                    tokio::time::sleep(wait).await;
                    Err(LinkError::Timeout)
                }
                Answer::Closed => Err(LinkError::Closed),
            }
        }
    }

    const FEE: FeeConfig = FeeConfig { fixed: 2, basis_points: 100 };

    fn request(from: Source, amount: u64, expires_in_ms: i64) -> OutgoingRequest {
        IncomingRequest { from, prepare: prepare("test.far.away", amount, expires_in_ms) }.into_outgoing("next".into())
    }

    fn bob(amount: u64, expires_in_ms: i64) -> OutgoingRequest {
        request(Source::Peer("bob".into()), amount, expires_in_ms)
    }

    fn forward(links: Link) -> (Forward<impl OutgoingService, Link>, Arc<Mutex<Vec<OutgoingRequest>>>) {
        let (seen, next) = recording_outgoing();
        (Forward::new(me(), FEE, links, next), seen)
    }

    #[test]
    fn fee_is_fixed_plus_basis_points_rounded_down_and_zero_for_zero() {
        assert_eq!(fee(&FEE, 0), 0);
        assert_eq!(fee(&FEE, 1), 2);
        assert_eq!(fee(&FEE, 1_000), 12);
        assert_eq!(fee(&FEE, 1_099), 12);
        assert_eq!(fee(&FeeConfig { fixed: u64::MAX, basis_points: 10_000 }, 5), u64::MAX);
    }

    #[tokio::test]
    async fn a_peers_prepare_pays_the_fee_and_loses_the_margin() {
        let (service, seen) = forward(Link::answering(Answer::Closed));
        let request = bob(1_000, 10_000);
        let incoming = request.prepare.clone();
        service.send_request(request).await.unwrap();
        let out = seen.lock().unwrap()[0].clone();
        assert_eq!(out.prepare.amount, 1_000 - 12);
        assert_eq!(out.original_amount, 1_000);
        assert_eq!(out.prepare.expires_at, incoming.expires_at - chrono::Duration::milliseconds(1_000));
        assert_eq!(
            (out.prepare.destination, out.prepare.execution_condition, out.prepare.data),
            (incoming.destination, incoming.execution_condition, incoming.data)
        );
    }

    #[tokio::test]
    async fn our_own_prepare_keeps_amount_and_expiry() {
        let (service, seen) = forward(Link::answering(Answer::Closed));
        let request = request(Source::Local, 1_000, 10_000);
        let incoming = request.prepare.clone();
        service.send_request(request).await.unwrap();
        assert_eq!(seen.lock().unwrap()[0].prepare, incoming);
    }

    #[tokio::test]
    async fn expiry_is_capped_at_max_hold() {
        let (service, seen) = forward(Link::answering(Answer::Closed));
        let before = crate::clock::now();
        service.send_request(bob(1_000, 120_000)).await.unwrap();
        let after = crate::clock::now();
        let expiry = seen.lock().unwrap()[0].prepare.expires_at;
        let hold = chrono::Duration::from_std(MAX_HOLD).unwrap();
        assert!(before + hold <= expiry && expiry <= after + hold, "{expiry} not now + 30 s");
    }

    #[tokio::test]
    async fn link_down_is_t01() {
        let (service, seen) = forward(Link { up: false, ..Link::answering(Answer::Closed) });
        let r = service.send_request(bob(1_000, 10_000)).await.unwrap_err();
        assert_eq!((r.code, r.message.as_str()), (ErrorCode::T01_PEER_UNREACHABLE, "peer link is down"));
        assert_eq!(r.triggered_by, Some(me()));
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn less_than_the_margin_left_is_r02() {
        let (service, seen) = forward(Link::answering(Answer::Closed));
        let r = service.send_request(bob(1_000, 900)).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::R02_INSUFFICIENT_TIMEOUT);
        assert_eq!(r.message, "not enough time left to forward");
        assert!(seen.lock().unwrap().is_empty());
        // Our own Prepare has no margin to lose.
        assert!(service.send_request(request(Source::Local, 1_000, 900)).await.is_ok());
    }

    #[tokio::test]
    async fn a_fee_eating_the_amount_is_r01() {
        let (service, seen) = forward(Link::answering(Answer::Closed));
        let r = service.send_request(bob(2, 10_000)).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::R01_INSUFFICIENT_SOURCE_AMOUNT);
        assert_eq!(r.message, "amount 2 does not cover the fee 2");
        assert!(seen.lock().unwrap().is_empty());
        // Zero amounts pay no fee; our own Prepares neither.
        assert!(service.send_request(bob(0, 10_000)).await.is_ok());
        assert!(service.send_request(request(Source::Local, 2, 10_000)).await.is_ok());
        let amounts: Vec<u64> = seen.lock().unwrap().iter().map(|r| r.prepare.amount).collect();
        assert_eq!(amounts, vec![0, 2]);
    }

    #[tokio::test]
    async fn send_on_link_returns_a_valid_fulfill_and_waits_until_the_expiry() {
        let link = Link::answering(Answer::Fulfill(fulfill()));
        let service = SendOnLink::new(me(), link.clone());
        let request = bob(988, 9_000);
        let sent_prepare = request.prepare.clone();
        assert_eq!(service.send_request(request).await.unwrap(), fulfill());
        let (account, prepare, wait) = link.sent.lock().unwrap()[0].clone();
        assert_eq!((account.as_str(), prepare), ("next", sent_prepare));
        assert!(wait <= Duration::from_millis(9_000) && wait > Duration::from_millis(8_000), "{wait:?}");
    }

    #[tokio::test]
    async fn a_fulfill_not_matching_the_condition_is_f05() {
        let wrong = Fulfill { fulfillment: [8; 32], data: vec![] };
        let service = SendOnLink::new(me(), Link::answering(Answer::Fulfill(wrong)));
        let r = service.send_request(bob(988, 9_000)).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::F05_WRONG_CONDITION);
        assert_eq!(r.message, "fulfillment did not match the execution condition");
        assert_eq!(r.triggered_by, Some(me()));
    }

    #[tokio::test(start_paused = true)]
    async fn no_reply_before_the_expiry_is_r00() {
        let service = SendOnLink::new(me(), Link::answering(Answer::Silence));
        let started = tokio::time::Instant::now();
        let r = service.send_request(bob(988, 9_000)).await.unwrap_err();
        assert_eq!((r.code, r.message.as_str()), (ErrorCode::R00_TRANSFER_TIMED_OUT, "no reply before expiry"));
        let waited = started.elapsed();
        assert!(waited > Duration::from_millis(8_000) && waited <= Duration::from_millis(9_000), "{waited:?}");
    }

    #[tokio::test]
    async fn a_failed_link_is_t01() {
        let service = SendOnLink::new(me(), Link::answering(Answer::Closed));
        let r = service.send_request(bob(988, 9_000)).await.unwrap_err();
        assert_eq!((r.code, r.message.as_str()), (ErrorCode::T01_PEER_UNREACHABLE, "link closed"));
    }

    #[tokio::test]
    async fn the_peers_reject_comes_back_unchanged() {
        let theirs = Reject {
            code: ErrorCode::F99_APPLICATION_ERROR,
            triggered_by: Some("test.far".parse().unwrap()),
            message: "nope".into(),
            data: vec![1, 2, 3],
        };
        let service = SendOnLink::new(me(), Link::answering(Answer::Reject(theirs.clone())));
        assert_eq!(service.send_request(bob(988, 9_000)).await.unwrap_err(), theirs);
    }
}
