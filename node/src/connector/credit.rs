//! Credit limits (RFC 32 "peering"): what a peer may owe us unsettled. A Prepare from a peer
//! that we fulfill (or forward and get fulfilled) raises the peer's balance with us; while
//! it is in flight its amount is reserved, so concurrent Prepares cannot pass the limit
//! together. Over the limit: T04 Insufficient Liquidity.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use protocol::ilp::{ErrorCode, Reject};

use crate::node::Node;

/// In-flight amounts per account (asset units).
#[derive(Default)]
pub struct Pending {
    amounts: Mutex<HashMap<String, u64>>,
}

/// A reservation of credit; released when dropped.
pub struct Reservation {
    node: Arc<Node>,
    account: String,
    amount: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut map = self.node.pending.amounts.lock().expect("poisoned");
        if let Some(v) = map.get_mut(&self.account) {
            *v = v.saturating_sub(self.amount);
            if *v == 0 {
                map.remove(&self.account);
            }
        }
    }
}

/// Reserve `amount` of `account`'s credit, or refuse with T04 when its balance plus what is
/// in flight plus `amount` would pass its credit limit.
pub async fn reserve(node: &Arc<Node>, account: &str, amount: u64) -> Result<Option<Reservation>, Reject> {
    if amount == 0 {
        return Ok(None);
    }
    let balance = match node.storage.account(account).await {
        Ok(a) => a.map(|a| a.balance).unwrap_or(0),
        Err(e) => {
            tracing::error!(error = %e, "could not read balance");
            return Err(super::reject(node, ErrorCode::T00_INTERNAL_ERROR, "could not read balance"));
        }
    };
    let limit = node.config.credit_limit(account) as i128;
    let mut map = node.pending.amounts.lock().expect("poisoned");
    let pending = map.get(account).copied().unwrap_or(0);
    if balance as i128 + pending as i128 + amount as i128 > limit {
        return Err(super::reject(
            node,
            ErrorCode::T04_INSUFFICIENT_LIQUIDITY,
            &format!("credit limit: balance {balance} + in flight {pending} + {amount} exceeds {limit}"),
        ));
    }
    *map.entry(account.to_owned()).or_default() += amount;
    Ok(Some(Reservation { node: node.clone(), account: account.to_owned(), amount }))
}
