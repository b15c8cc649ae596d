//! The balance step (RFC 32 "peering": balances move only on a valid Fulfill): once the next
//! hop has fulfilled (the link step has checked the fulfillment), commit the balance changes
//! in one write before the Fulfill goes back upstream:
//!
//! - the next hop `to`: `-(outgoing amount)`, reference `out:<condition hex>`, memo
//!   "fulfilled outgoing Prepare" (when the outgoing amount is non-zero);
//! - the peer the Prepare came from: `+(incoming amount)`, reference `in:<condition hex>`,
//!   memo "fulfilled forwarded Prepare" (none for this node's own Prepares).
//!
//! Nothing is written for a zero-amount Prepare. When the commit fails the Fulfill is
//! withheld and the upstream gets T00, so our books and the upstream peer's agree.
use std::future::Future;

use protocol::ilp::{Address, ErrorCode};
use storage::{LedgerEntry, LedgerOutcome, Op, OpOutcome, StorageError};

use super::service::{reject_at, IlpResult, OutgoingRequest, OutgoingService};
use super::Source;

/// The node's ledger.
pub trait Ledger: Send + Sync {
    /// Commit `ops` in one transaction; one outcome per op, in order.
    ///
    /// Errors: [`StorageError`], nothing committed.
    fn commit(&self, ops: Vec<Op>) -> impl Future<Output = Result<Vec<OpOutcome>, StorageError>> + Send;
}

/// A ledger entry in the asset `asset_code` / `asset_scale`, dated now (unix seconds).
/// `delta` is in asset units (positive: the peer owes us more / paid us; negative: we paid
/// the peer).
pub fn entry(
    asset_code: &str,
    asset_scale: u8,
    account: &str,
    delta: i64,
    reference: String,
    memo: &str,
) -> LedgerEntry {
    LedgerEntry {
        account: account.to_owned(),
        asset_code: asset_code.to_owned(),
        asset_scale,
        delta,
        reference,
        memo: memo.to_owned(),
        created_at: crate::clock::now_secs(),
    }
}

/// The balance step; see the module doc.
pub struct Balance<N, D> {
    next: N,
    ledger: D,
    asset: super::Asset,
    address: Address,
}

impl<N, D> Balance<N, D> {
    /// The step at `address`, booking in `asset` on `ledger`.
    pub fn new(address: Address, asset: super::Asset, ledger: D, next: N) -> Self {
        Self { next, ledger, asset, address }
    }

    fn entry(&self, account: &str, delta: i64, reference: String, memo: &str) -> Op {
        Op::Ledger(entry(&self.asset.code, self.asset.scale, account, delta, reference, memo))
    }
}

impl<N: OutgoingService, D: Ledger> OutgoingService for Balance<N, D> {
    async fn send_request(&self, request: OutgoingRequest) -> IlpResult {
        let incoming_amount = request.original_amount;
        let amount = request.prepare.amount;
        let cond = hex::encode(request.prepare.execution_condition);
        let to = request.to.clone();
        let from = request.from.clone();
        let fulfill = self.next.send_request(request).await?;
        if incoming_amount == 0 {
            return Ok(fulfill);
        }
        let mut ops = Vec::new();
        if amount > 0 {
            ops.push(self.entry(&to, -(amount as i64), format!("out:{cond}"), "fulfilled outgoing Prepare"));
        }
        if let Source::Peer(src) = &from {
            ops.push(self.entry(src, incoming_amount as i64, format!("in:{cond}"), "fulfilled forwarded Prepare"));
        }
        match self.ledger.commit(ops).await {
            Ok(outcomes) => {
                if let Some(OpOutcome::Ledger(LedgerOutcome::Applied { balance })) = outcomes.first() {
                    tracing::info!(
                        peer = %to, amount, condition = %cond, fulfillment = %hex::encode(fulfill.fulfillment),
                        balance, "Prepare fulfilled (SHA-256(fulfillment) == condition); balance with peer debited"
                    );
                }
                Ok(fulfill)
            }
            Err(e) => {
                // The peer has fulfilled; we failed to record it. Refuse upstream so our own
                // books and the upstream peer's stay consistent with each other.
                tracing::error!(error = %e, "could not persist balance change");
                Err(reject_at(&self.address, ErrorCode::T00_INTERNAL_ERROR, "could not record balance"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use protocol::ilp::Reject;

    use super::super::service::testing::*;
    use super::super::service::{outgoing_service_fn, IncomingRequest};
    use super::super::Asset;
    use super::*;

    /// Records every commit; `broken`: commits fail.
    #[derive(Clone, Default)]
    struct Book {
        commits: Arc<Mutex<Vec<Vec<Op>>>>,
        broken: bool,
    }

    impl Ledger for Book {
        async fn commit(&self, ops: Vec<Op>) -> Result<Vec<OpOutcome>, StorageError> {
            if self.broken {
                return Err(StorageError::WriterGone);
            }
            let n = ops.len();
            self.commits.lock().unwrap().push(ops);
            Ok(vec![OpOutcome::Ledger(LedgerOutcome::Applied { balance: -5 }); n])
        }
    }

    fn asset() -> Asset {
        Asset { code: "USD".into(), scale: 6 }
    }

    /// A forwarded request: `incoming` arrived from `from`, `outgoing` goes to "next".
    fn forwarded(from: Source, incoming: u64, outgoing: u64) -> OutgoingRequest {
        let mut r = IncomingRequest { from, prepare: prepare("test.x", incoming, 5_000) }.into_outgoing("next".into());
        r.prepare.amount = outgoing;
        r
    }

    /// The ledger ops of a commit, without their timestamps.
    fn entries(ops: &[Op]) -> Vec<(String, i64, String, String, String, u8)> {
        ops.iter()
            .map(|op| match op {
                Op::Ledger(e) => (
                    e.account.clone(),
                    e.delta,
                    e.reference.clone(),
                    e.memo.clone(),
                    e.asset_code.clone(),
                    e.asset_scale,
                ),
                other => panic!("not a ledger op: {other:?}"),
            })
            .collect()
    }

    fn cond_hex() -> String {
        hex::encode(protocol::ilp::condition_of(&FULFILLMENT))
    }

    #[tokio::test]
    async fn a_fulfilled_forward_debits_the_next_hop_and_credits_the_source() {
        let book = Book::default();
        let (_, next) = recording_outgoing();
        let service = Balance::new(me(), asset(), book.clone(), next);
        let before = crate::clock::now_secs();
        let f = service.send_request(forwarded(Source::Peer("bob".into()), 1_000, 988)).await.unwrap();
        assert_eq!(f, fulfill());
        let commits = book.commits.lock().unwrap().clone();
        assert_eq!(commits.len(), 1);
        let c = cond_hex();
        assert_eq!(
            entries(&commits[0]),
            vec![
                ("next".into(), -988, format!("out:{c}"), "fulfilled outgoing Prepare".into(), "USD".into(), 6),
                ("bob".into(), 1_000, format!("in:{c}"), "fulfilled forwarded Prepare".into(), "USD".into(), 6),
            ]
        );
        let Op::Ledger(e) = &commits[0][0] else { unreachable!() };
        assert!(e.created_at >= before && e.created_at <= crate::clock::now_secs());
    }

    #[tokio::test]
    async fn our_own_prepare_only_debits_the_next_hop() {
        let book = Book::default();
        let (_, next) = recording_outgoing();
        let service = Balance::new(me(), asset(), book.clone(), next);
        service.send_request(forwarded(Source::Local, 50, 50)).await.unwrap();
        let commits = book.commits.lock().unwrap().clone();
        let c = cond_hex();
        assert_eq!(
            entries(&commits[0]),
            vec![("next".into(), -50, format!("out:{c}"), "fulfilled outgoing Prepare".into(), "USD".into(), 6)]
        );
    }

    #[tokio::test]
    async fn zero_amounts_write_nothing() {
        let book = Book { broken: true, ..Book::default() };
        let (_, next) = recording_outgoing();
        let service = Balance::new(me(), asset(), book.clone(), next);
        assert_eq!(service.send_request(forwarded(Source::Peer("bob".into()), 0, 0)).await.unwrap(), fulfill());
    }

    #[tokio::test]
    async fn a_failed_commit_is_t00_and_withholds_the_fulfill() {
        let book = Book { broken: true, ..Book::default() };
        let (seen, next) = recording_outgoing();
        let service = Balance::new(me(), asset(), book.clone(), next);
        let r = service.send_request(forwarded(Source::Peer("bob".into()), 1_000, 988)).await.unwrap_err();
        assert_eq!((r.code, r.message.as_str()), (ErrorCode::T00_INTERNAL_ERROR, "could not record balance"));
        assert_eq!(r.triggered_by, Some(me()));
        assert!(r.data.is_empty());
        assert_eq!(seen.lock().unwrap().len(), 1, "the next hop did fulfill");
    }

    #[tokio::test]
    async fn a_reject_from_the_next_hop_writes_nothing_and_comes_back() {
        let book = Book::default();
        let theirs = reject_at(&"test.far".parse().unwrap(), ErrorCode::F99_APPLICATION_ERROR, "no");
        let answer: Reject = theirs.clone();
        let next = outgoing_service_fn(move |_| Err(answer.clone()));
        let service = Balance::new(me(), asset(), book.clone(), next);
        let r = service.send_request(forwarded(Source::Peer("bob".into()), 1_000, 988)).await.unwrap_err();
        assert_eq!(r, theirs);
        assert!(book.commits.lock().unwrap().is_empty());
    }
}
