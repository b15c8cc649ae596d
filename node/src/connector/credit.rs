//! Credit limits (RFC 32 "peering"): what a peer may owe us unsettled. A Prepare from a peer
//! that we fulfill (or forward and get fulfilled) raises the peer's balance with us; while
//! it is in flight its amount is reserved, so concurrent Prepares cannot pass the limit
//! together. Over the limit: T04 Insufficient Liquidity; the balance unreadable: T00.
//!
//! Two users: the credit step of the connector chain ([`Credit`], for forwarded Prepares,
//! reservation held until the next hop's outcome) and the local STREAM receiver
//! ([`reserve`], once it knows a packet is fulfillable). The step runs after `route`, so a
//! Prepare that cannot be routed is F02 without a balance read, even from a peer over its
//! limit (when the connector was one function, the credit check came first and T04 won).
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use protocol::ilp::{Address, ErrorCode, Reject};
use storage::StorageError;

use super::service::{reject_at, IlpResult, OutgoingRequest, OutgoingService};
use super::Source;
use crate::node::Node;

/// In-flight amounts per account (asset units). Clones share the same amounts.
#[derive(Default, Clone)]
pub struct Pending {
    amounts: Arc<Mutex<HashMap<String, u64>>>,
}

impl Pending {
    /// What is reserved for `account` now (asset units).
    pub fn in_flight(&self, account: &str) -> u64 {
        self.amounts.lock().expect("poisoned").get(account).copied().unwrap_or(0)
    }

    /// Reserve `amount` for `account` if `balance + in flight + amount ≤ limit` (asset units).
    ///
    /// Errors: [`OverLimit`], nothing reserved.
    pub fn try_reserve(&self, account: &str, amount: u64, balance: i64, limit: u64) -> Result<Reservation, OverLimit> {
        let mut map = self.amounts.lock().expect("poisoned");
        let pending = map.get(account).copied().unwrap_or(0);
        if balance as i128 + pending as i128 + amount as i128 > limit as i128 {
            return Err(OverLimit { balance, pending, amount, limit });
        }
        *map.entry(account.to_owned()).or_default() += amount;
        Ok(Reservation { pending: self.clone(), account: account.to_owned(), amount })
    }
}

/// A reservation would pass the credit limit (all amounts in asset units).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credit limit: balance {balance} + in flight {pending} + {amount} exceeds {limit}")]
pub struct OverLimit {
    /// The account's balance with us (positive: it owes us).
    pub balance: i64,
    /// Already reserved for it.
    pub pending: u64,
    /// The amount asked for.
    pub amount: u64,
    /// Its credit limit.
    pub limit: u64,
}

/// A reservation of credit; released when dropped.
pub struct Reservation {
    pending: Pending,
    account: String,
    amount: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut map = self.pending.amounts.lock().expect("poisoned");
        if let Some(v) = map.get_mut(&self.account) {
            *v = v.saturating_sub(self.amount);
            if *v == 0 {
                map.remove(&self.account);
            }
        }
    }
}

/// An account's standing: its balance and its credit limit.
pub trait CreditStanding: Send + Sync {
    /// The balance of `account` (asset units; positive: it owes us); 0 for an unknown account.
    fn balance(&self, account: &str) -> impl Future<Output = Result<i64, StorageError>> + Send;
    /// The credit limit of `account` (asset units).
    fn credit_limit(&self, account: &str) -> u64;
}

/// Reserve `amount` of `account`'s credit (`None` for amount 0), or refuse with T04 when its
/// balance plus what is in flight plus `amount` would pass its credit limit, T00 when the
/// balance cannot be read. Rejects are triggered by `address`.
pub async fn reserve_with(
    standing: &impl CreditStanding,
    pending: &Pending,
    address: &Address,
    account: &str,
    amount: u64,
) -> Result<Option<Reservation>, Reject> {
    if amount == 0 {
        return Ok(None);
    }
    let balance = match standing.balance(account).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "could not read balance");
            return Err(reject_at(address, ErrorCode::T00_INTERNAL_ERROR, "could not read balance"));
        }
    };
    let limit = standing.credit_limit(account);
    match pending.try_reserve(account, amount, balance, limit) {
        Ok(r) => Ok(Some(r)),
        Err(over) => Err(reject_at(address, ErrorCode::T04_INSUFFICIENT_LIQUIDITY, &over.to_string())),
    }
}

/// [`reserve_with`] the node's balances, limits and in-flight amounts.
pub async fn reserve(node: &Arc<Node>, account: &str, amount: u64) -> Result<Option<Reservation>, Reject> {
    let ports = super::ports::NodePorts::new(node);
    reserve_with(&ports, &node.pending, &node.address, account, amount).await
}

/// The credit step: a Prepare from a peer reserves its amount against the peer's credit
/// limit (T04 over it, T00 balance unreadable) for as long as `next` takes to answer;
/// the reservation goes with the outcome (or when the request is dropped). Prepares from
/// this node's own sender pass unchecked.
pub struct Credit<N, S> {
    next: N,
    standing: S,
    pending: Pending,
    address: Address,
}

impl<N, S> Credit<N, S> {
    /// The step at `address`, reading `standing` and reserving in `pending`.
    pub fn new(address: Address, standing: S, pending: Pending, next: N) -> Self {
        Self { next, standing, pending, address }
    }
}

impl<N: OutgoingService, S: CreditStanding> OutgoingService for Credit<N, S> {
    async fn send_request(&self, request: OutgoingRequest) -> IlpResult {
        let _reservation = match &request.from {
            Source::Peer(account) => {
                reserve_with(&self.standing, &self.pending, &self.address, account, request.prepare.amount).await?
            }
            Source::Local => None,
        };
        self.next.send_request(request).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::future::Future as _;

    use super::super::service::testing::*;
    use super::super::service::{outgoing_service_fn, IncomingRequest};
    use super::*;

    /// Balances by account, limit 100 for everyone; `broken`: the balance read fails.
    struct Standing {
        balances: HashMap<&'static str, i64>,
        broken: bool,
    }

    impl CreditStanding for Standing {
        async fn balance(&self, account: &str) -> Result<i64, StorageError> {
            if self.broken {
                return Err(StorageError::WriterGone);
            }
            Ok(self.balances.get(account).copied().unwrap_or(0))
        }
        fn credit_limit(&self, _: &str) -> u64 {
            100
        }
    }

    fn standing() -> Standing {
        Standing { balances: HashMap::from([("alice", 60)]), broken: false }
    }

    fn request(from: Source, amount: u64) -> OutgoingRequest {
        IncomingRequest { from, prepare: prepare("test.x", amount, 5_000) }.into_outgoing("next".into())
    }

    fn alice(amount: u64) -> OutgoingRequest {
        request(Source::Peer("alice".into()), amount)
    }

    #[tokio::test]
    async fn over_the_limit_is_t04_and_reserves_nothing() {
        let pending = Pending::default();
        let (seen, next) = recording_outgoing();
        let service = Credit::new(me(), standing(), pending.clone(), next);
        let r = service.send_request(alice(41)).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::T04_INSUFFICIENT_LIQUIDITY);
        assert_eq!(r.message, "credit limit: balance 60 + in flight 0 + 41 exceeds 100");
        assert_eq!(r.triggered_by, Some(me()));
        assert!(seen.lock().unwrap().is_empty());
        assert_eq!(pending.in_flight("alice"), 0);
    }

    #[tokio::test]
    async fn reservation_is_held_while_next_works_and_released_after_the_outcome() {
        for outcome_ok in [true, false] {
            let pending = Pending::default();
            let watched = pending.clone();
            let next = outgoing_service_fn(move |r| {
                assert_eq!(watched.in_flight("alice"), 40, "reserved during the hop");
                if outcome_ok {
                    Ok(fulfill())
                } else {
                    Err(reject_at(&me(), ErrorCode::T01_PEER_UNREACHABLE, &r.to))
                }
            });
            let service = Credit::new(me(), standing(), pending.clone(), next);
            assert_eq!(service.send_request(alice(40)).await.is_ok(), outcome_ok);
            assert_eq!(pending.in_flight("alice"), 0);
        }
    }

    #[tokio::test]
    async fn in_flight_amounts_count_against_the_limit() {
        let pending = Pending::default();
        let held = pending.try_reserve("alice", 30, 0, 100).unwrap();
        let (_, next) = recording_outgoing();
        let service = Credit::new(me(), standing(), pending.clone(), next);
        let r = service.send_request(alice(11)).await.unwrap_err();
        assert_eq!(r.message, "credit limit: balance 60 + in flight 30 + 11 exceeds 100");
        drop(held);
        assert!(service.send_request(alice(11)).await.is_ok());
    }

    /// A next hop that never answers.
    struct Stalled;

    impl OutgoingService for Stalled {
        async fn send_request(&self, _: OutgoingRequest) -> IlpResult {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_request_releases_the_reservation() {
        let pending = Pending::default();
        let service = Credit::new(me(), standing(), pending.clone(), Stalled);
        let timed_out = tokio::time::timeout(std::time::Duration::from_secs(5), service.send_request(alice(40))).await;
        assert!(timed_out.is_err());
        assert_eq!(pending.in_flight("alice"), 0);
        let mut call = Box::pin(service.send_request(alice(40)));
        let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
        assert!(polled.is_pending());
        assert_eq!(pending.in_flight("alice"), 40);
        drop(call);
        assert_eq!(pending.in_flight("alice"), 0);
    }

    #[tokio::test]
    async fn unreadable_balance_is_t00() {
        let (seen, next) = recording_outgoing();
        let service = Credit::new(me(), Standing { broken: true, ..standing() }, Pending::default(), next);
        let r = service.send_request(alice(1)).await.unwrap_err();
        assert_eq!((r.code, r.message.as_str()), (ErrorCode::T00_INTERNAL_ERROR, "could not read balance"));
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn local_and_zero_amount_prepares_reserve_nothing() {
        let pending = Pending::default();
        let watched = pending.clone();
        let next = outgoing_service_fn(move |_| {
            assert_eq!(watched.in_flight("alice"), 0);
            Ok(fulfill())
        });
        let service = Credit::new(me(), Standing { broken: true, ..standing() }, pending, next);
        assert!(service.send_request(request(Source::Local, 1_000)).await.is_ok());
        assert!(service.send_request(alice(0)).await.is_ok());
    }
}
