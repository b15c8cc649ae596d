//! First step: cheap refusals before anything else looks at a Prepare.
//!
//! - expired on arrival (RFC 27 §3.1 `expiresAt` ≤ now): R00 Transfer Timed Out, for every
//!   source;
//! - from a peer, an amount above the account's `max_packet_amount`: F08 Amount Too Large,
//!   with [`AmountTooLargeData`] (received and maximum amount, asset units) as data.
//!
//! F08 rather than T04 because the limit is static and the data tells a STREAM sender how
//! much it may send per packet; what a peer may owe in total is the credit step's (T04).
use protocol::ilp::{Address, AmountTooLargeData, ErrorCode};

use super::service::{reject_at, IlpResult, IncomingRequest, IncomingService};
use super::Source;

/// What the validate step needs to know of accounts.
pub trait PacketLimits: Send + Sync {
    /// The largest Prepare amount accepted from `account` (asset units); `None`: no limit.
    fn max_packet_amount(&self, account: &str) -> Option<u64>;
}

/// The validate step: R00 for an expired Prepare, F08 for one above the sender's maximum;
/// everything else goes to `next` unchanged.
pub struct Validate<N, P> {
    next: N,
    limits: P,
    address: Address,
}

impl<N, P> Validate<N, P> {
    /// The step at `address` (the Rejects' `triggeredBy`), reading limits from `limits`.
    pub fn new(address: Address, limits: P, next: N) -> Self {
        Self { next, limits, address }
    }
}

impl<N: IncomingService, P: PacketLimits> IncomingService for Validate<N, P> {
    async fn handle_request(&self, request: IncomingRequest) -> IlpResult {
        let prepare = &request.prepare;
        if prepare.expires_at <= crate::clock::now() {
            return Err(reject_at(
                &self.address,
                ErrorCode::R00_TRANSFER_TIMED_OUT,
                "packet expired before it arrived",
            ));
        }
        if let Source::Peer(account) = &request.from {
            if let Some(max) = self.limits.max_packet_amount(account) {
                if prepare.amount > max {
                    let mut r = reject_at(
                        &self.address,
                        ErrorCode::F08_AMOUNT_TOO_LARGE,
                        &format!("packet amount {} exceeds the maximum {max}", prepare.amount),
                    );
                    r.data = AmountTooLargeData { received_amount: prepare.amount, maximum_amount: max }.encode();
                    return Err(r);
                }
            }
        }
        self.next.handle_request(request).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::service::testing::*;
    use super::*;

    struct Limits(HashMap<&'static str, u64>);

    impl PacketLimits for Limits {
        fn max_packet_amount(&self, account: &str) -> Option<u64> {
            self.0.get(account).copied()
        }
    }

    fn step<N: IncomingService>(next: N) -> Validate<N, Limits> {
        Validate::new(me(), Limits(HashMap::from([("alice", 100)])), next)
    }

    #[tokio::test]
    async fn expired_prepare_is_r00_and_goes_no_further() {
        let (seen, next) = recording_incoming();
        let r = step(next).handle_request(from_peer("bob", prepare("test.x", 1, -1))).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::R00_TRANSFER_TIMED_OUT);
        assert_eq!(r.message, "packet expired before it arrived");
        assert_eq!(r.triggered_by, Some(me()));
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn expired_local_prepare_is_r00_too() {
        let (_, next) = recording_incoming();
        let request = IncomingRequest { from: Source::Local, prepare: prepare("test.x", 1, -1) };
        let r = step(next).handle_request(request).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::R00_TRANSFER_TIMED_OUT);
    }

    #[tokio::test]
    async fn above_max_packet_amount_is_f08_with_amounts_as_data() {
        let (seen, next) = recording_incoming();
        let r = step(next).handle_request(from_peer("alice", prepare("test.x", 101, 5_000))).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::F08_AMOUNT_TOO_LARGE);
        assert_eq!(r.message, "packet amount 101 exceeds the maximum 100");
        assert_eq!(
            AmountTooLargeData::decode(&r.data).unwrap(),
            AmountTooLargeData { received_amount: 101, maximum_amount: 100 }
        );
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn at_the_maximum_unlimited_and_local_pass_unchanged() {
        let (seen, next) = recording_incoming();
        let service = step(next);
        let at_max = from_peer("alice", prepare("test.x", 100, 5_000));
        let unlimited = from_peer("bob", prepare("test.x", u64::MAX, 5_000));
        let local = IncomingRequest { from: Source::Local, prepare: prepare("test.x", 1_000, 5_000) };
        for request in [at_max, unlimited, local] {
            assert!(service.handle_request(request.clone()).await.is_ok());
            assert_eq!(seen.lock().unwrap().last(), Some(&request));
        }
        assert_eq!(seen.lock().unwrap().len(), 3);
    }
}
