//! Being paid: verify claims, keep the highest, credit once, close on chain in time.
use std::sync::Arc;

use contracts::{verify_claim, AccountCode, Claim, B256};
use protocol::btpnips::info::ClaimMessage;
use storage::{ChannelRecord, ChannelStatus, Direction, Op};

use super::{parse_u256, ClaimRefusal, CloseError, Engine, PayerRefusal, U256};
use crate::node::Node;

/// Verify and apply one claim from `peer`. Claims are applied one at a time per node (the
/// engine's claim lock), so two claims in flight can never both count the same difference.
pub(super) async fn on_claim(
    node: &Arc<Node>,
    engine: &Engine,
    peer: &str,
    msg: ClaimMessage,
) -> Result<(), ClaimRefusal> {
    let _one_at_a_time = engine.claim_lock.lock().await;
    if msg.chain_id != engine.domain.chain_id
        || !msg.contract.eq_ignore_ascii_case(&engine.domain.contract.to_checksum(None))
    {
        return Err(ClaimRefusal::OtherDomain);
    }
    let sender: contracts::Address = {
        let peers = node.peers.lock().expect("poisoned");
        let s = peers.get(peer).and_then(|i| i.settlement.as_ref()).ok_or(ClaimRefusal::NoPeerAddress)?;
        s.address.parse().map_err(|e| ClaimRefusal::PeerAddress(format!("{e}")))?
    };
    let id: B256 = msg.channel_id.parse().map_err(|e| ClaimRefusal::ChannelId(format!("{e}")))?;
    let cumulative = parse_u256(&msg.cumulative_amount)?;
    let mut signature = [0u8; 65];
    hex::decode_to_slice(msg.signature.trim_start_matches("0x"), &mut signature)
        .map_err(|_| ClaimRefusal::SignatureEncoding)?;

    let mut ch = match engine.channel(peer, Direction::Inbound) {
        Some(c) if c.channel_id.eq_ignore_ascii_case(&msg.channel_id) => c,
        _ => first_sight(engine, peer, id, sender).await?,
    };
    if !ch.status.is_open() {
        return Err(ClaimRefusal::ChannelClosed { channel_id: ch.channel_id, status: ch.status });
    }
    let previous = parse_u256(&ch.claimed)?;
    if cumulative == previous {
        return Ok(()); // a resend of what we have
    }
    if cumulative < previous {
        return Err(ClaimRefusal::Lower { claim: cumulative, previous });
    }
    if cumulative > parse_u256(&ch.deposit)? {
        // The payer may have topped up: only the chain's confirmed deposit counts.
        let state = engine.client.channel(id).await.map_err(ClaimRefusal::ReadChannel)?;
        ch.deposit = state.deposit.to_string();
        ch.expiry = state.expiry;
        if cumulative > state.deposit {
            return Err(ClaimRefusal::OverDeposit { claim: cumulative, deposit: state.deposit });
        }
    }
    verify_claim(&engine.domain, &Claim { channel_id: id, cumulative_amount: cumulative }, &signature, sender)
        .map_err(ClaimRefusal::InvalidSignature)?;
    let units = (cumulative / engine.base_units_per_unit) - (previous / engine.base_units_per_unit);
    let units: u64 = units.try_into().map_err(|_| ClaimRefusal::DifferenceTooLarge)?;
    ch.claimed = cumulative.to_string();
    ch.signature = Some(msg.signature.clone());
    ch.revision += 1;
    ch.updated_at = crate::clock::now_secs();
    let entry = crate::connector::ledger_entry(
        node,
        peer,
        -(units as i64),
        format!("claim-in:{}:{}", ch.channel_id, ch.claimed),
        "payment-channel claim received",
    );
    node.storage
        .writer()
        .submit(vec![Op::UpsertChannel(ch.clone()), Op::Ledger(entry)])
        .await
        .map_err(ClaimRefusal::Store)?;
    tracing::info!(%peer, channel = %ch.channel_id, cumulative = %ch.claimed, units, "settlement: claim verified and credited");
    engine.remember(ch);
    Ok(())
}

/// A channel we have not seen: read it from the chain and check it pays us, from this peer,
/// in ETH, open, and not about to expire.
async fn first_sight(
    engine: &Engine,
    peer: &str,
    id: B256,
    sender: contracts::Address,
) -> Result<ChannelRecord, ClaimRefusal> {
    let state = engine.client.channel(id).await.map_err(ClaimRefusal::ReadChannel)?;
    let now = engine.client.block_timestamp().await.map_err(ClaimRefusal::ChainTime)?;
    if state.sender != sender {
        return Err(ClaimRefusal::WrongSender);
    }
    if state.recipient != engine.client.address() {
        return Err(ClaimRefusal::WrongRecipient);
    }
    if state.token != contracts::Address::ZERO {
        return Err(ClaimRefusal::NotEth);
    }
    if state.closed {
        return Err(ClaimRefusal::ClosedOnChain);
    }
    if state.expiry <= now + engine.config.close_margin_secs {
        return Err(ClaimRefusal::ExpiresSoon);
    }
    let code = engine.client.account_code(sender).await.map_err(ClaimRefusal::ReadPayerCode)?;
    if let Some(why) = refusal(code, engine.config.accept_delegated_payers) {
        tracing::warn!(%peer, %sender, %code, "settlement: payer refused");
        return Err(why.into());
    }
    Ok(ChannelRecord {
        peer: peer.to_owned(),
        direction: Direction::Inbound,
        channel_id: id.to_string(),
        chain_id: engine.domain.chain_id,
        contract: engine.domain.contract.to_checksum(None),
        sender: sender.to_checksum(None),
        recipient: engine.client.address().to_checksum(None),
        deposit: state.deposit.to_string(),
        expiry: state.expiry,
        claimed: "0".into(),
        signature: None,
        status: ChannelStatus::Open,
        revision: 0,
        updated_at: crate::clock::now_secs(),
    })
}

/// Close, on chain, every channel from `peer` that pays us, with the highest claim. Returns
/// the closed channel ids. Errors: nothing to close, or the chain refused.
pub async fn close_channels_from(node: &Arc<Node>, peer: &str) -> Result<Vec<String>, CloseError> {
    let engine = node.settlement.as_ref().ok_or(CloseError::NotSettling)?;
    let Some(ch) = engine.channel(peer, Direction::Inbound).filter(|c| c.status.is_open()) else {
        return Err(CloseError::NoOpenChannel { peer: peer.to_owned() });
    };
    close(node, engine, ch).await.map(|id| vec![id])
}

/// The payee's policy on what a payer's address may carry (contracts/README.md "Trust model"):
/// `Some(refusal)` when claims from it are refused. The contract honours the payer key's ECDSA
/// claims whatever code the address carries, and this node takes only such claims; still, a
/// delegated payer runs code we did not vet, so it is refused unless the operator accepts it,
/// and a payer with contract code has no key that signs for it (its ERC-1271 claims are
/// revocable by its code), so it is always refused.
pub(crate) fn refusal(code: AccountCode, accept_delegated: bool) -> Option<PayerRefusal> {
    match code {
        AccountCode::None => None,
        AccountCode::Delegated(_) if accept_delegated => None,
        AccountCode::Delegated(delegate) => Some(PayerRefusal::Delegated { delegate }),
        AccountCode::Contract => Some(PayerRefusal::Contract),
    }
}

async fn close(node: &Arc<Node>, engine: &Engine, ch: ChannelRecord) -> Result<String, CloseError> {
    // Take the highest claim and mark the channel `closing` under the claim lock, so no claim
    // is credited between choosing the amount and the close landing on chain (a claim arriving
    // from here on is refused `channel-closed:`; the lock is not held across the transaction).
    let mut ch = {
        let _one_at_a_time = engine.claim_lock.lock().await;
        let Some(mut latest) = engine.channel(&ch.peer, Direction::Inbound).filter(|c| c.channel_id == ch.channel_id)
        else {
            return Err(CloseError::NotTracked { channel_id: ch.channel_id });
        };
        if !latest.status.is_open() {
            return Err(CloseError::NotOpen { channel_id: latest.channel_id, status: latest.status });
        }
        latest.status = ChannelStatus::Closing;
        engine.remember(latest.clone());
        latest
    };
    let reopen = |mut ch: ChannelRecord| {
        ch.status = ChannelStatus::Open;
        engine.remember(ch);
    };
    let parsed = (|| -> Result<(B256, U256, [u8; 65]), CloseError> {
        let sig = ch.signature.as_deref().ok_or(CloseError::NoClaim)?;
        let mut signature = [0u8; 65];
        hex::decode_to_slice(sig.trim_start_matches("0x"), &mut signature).map_err(|_| CloseError::StoredSignature)?;
        let id: B256 = ch.channel_id.parse().map_err(|e| CloseError::ChannelId(format!("{e}")))?;
        Ok((id, parse_u256(&ch.claimed)?, signature))
    })();
    let (id, amount, signature) = match parsed {
        Ok(x) => x,
        Err(e) => {
            reopen(ch);
            return Err(e);
        }
    };
    if let Ok(sender) = ch.sender.parse::<contracts::Address>() {
        match engine.client.account_code(sender).await {
            Ok(AccountCode::None) => {}
            Ok(code) => {
                tracing::warn!(peer = %ch.peer, %sender, %code, "settlement: closing a channel whose payer carries code (its ECDSA claim still holds)")
            }
            Err(e) => tracing::debug!(error = %e, "settlement: payer code not read before close"),
        }
    }
    let tx = match engine.client.close(id, amount, &signature).await {
        Ok(tx) => Some(tx),
        // The transaction may have landed anyway (a receipt timeout) or the channel be closed
        // already: only a channel the chain shows open takes claims again.
        Err(e) => match engine.client.channel(id).await {
            Ok(state) if state.closed => None,
            _ => {
                reopen(ch);
                return Err(CloseError::Chain(e));
            }
        },
    };
    ch.status = ChannelStatus::Closed;
    ch.revision += 1;
    ch.updated_at = crate::clock::now_secs();
    node.storage.writer().submit(vec![Op::UpsertChannel(ch.clone())]).await?;
    match tx {
        Some(tx) => {
            tracing::info!(peer = %ch.peer, channel = %ch.channel_id, amount = %amount, tx = %tx.tx_hash, gas = tx.gas_used, "settlement: closed channel on chain")
        }
        None => tracing::warn!(peer = %ch.peer, channel = %ch.channel_id, "settlement: channel found closed on chain"),
    }
    engine.remember(ch.clone());
    Ok(ch.channel_id)
}

/// Chain-side housekeeping: close channels paying us before they expire, and notice our own
/// channels being closed (then pull the refund).
pub(super) async fn step(node: &Arc<Node>, engine: &Engine) {
    let Ok(now) = engine.client.block_timestamp().await else { return };
    let channels: Vec<ChannelRecord> = engine.channels.lock().expect("poisoned").values().cloned().collect();
    for ch in channels {
        match ch.direction {
            Direction::Inbound if ch.status.is_open() && ch.signature.is_some() => {
                let due = ch.expiry <= now + engine.config.close_margin_secs;
                let refused = if due { None } else { payer_now_refused(engine, &ch).await };
                if let Some(why) = &refused {
                    tracing::warn!(peer = %ch.peer, channel = %ch.channel_id, reason = %why, "settlement: payer acquired code; closing now with the highest claim");
                }
                if due || refused.is_some() {
                    if let Err(e) = close(node, engine, ch).await {
                        tracing::warn!(error = %e, "settlement: close failed; will retry");
                    }
                }
            }
            Direction::Outbound if ch.status.is_open() => {
                let Ok(id) = ch.channel_id.parse::<B256>() else { continue };
                let Ok(state) = engine.client.channel(id).await else { continue };
                if state.closed {
                    // Pull what the close left us; until that succeeds (the chain unreachable,
                    // the pull failed) the channel stays tracked and is looked at again.
                    match super::payer::claim_refund(engine).await {
                        Ok(()) => {}
                        Err(e) => {
                            tracing::warn!(peer = %ch.peer, channel = %ch.channel_id, error = %e, "settlement: our channel was closed; refund not pulled yet, will retry");
                            continue;
                        }
                    }
                    let mut ch = ch;
                    ch.status = ChannelStatus::Refunded;
                    ch.revision += 1;
                    ch.updated_at = crate::clock::now_secs();
                    if node.storage.writer().submit(vec![Op::UpsertChannel(ch.clone())]).await.is_ok() {
                        tracing::info!(peer = %ch.peer, channel = %ch.channel_id, status = %ch.status, "settlement: our channel was closed by the payee");
                        engine.channels.lock().expect("poisoned").remove(&(ch.peer.clone(), Direction::Outbound));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Re-checks an open channel's payer against [`refusal`]: a payer that delegated (or otherwise
/// acquired code) after its channel was accepted. `None` when it is fine or its code cannot be
/// read now (retried next tick).
async fn payer_now_refused(engine: &Engine, ch: &ChannelRecord) -> Option<PayerRefusal> {
    let sender: contracts::Address = ch.sender.parse().ok()?;
    let code = engine.client.account_code(sender).await.ok()?;
    refusal(code, engine.config.accept_delegated_payers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_on_payer_code() {
        let d = contracts::Address::repeat_byte(7);
        assert_eq!(refusal(AccountCode::None, false), None);
        assert_eq!(refusal(AccountCode::Delegated(d), false), Some(PayerRefusal::Delegated { delegate: d }));
        assert_eq!(refusal(AccountCode::Delegated(d), true), None);
        assert_eq!(refusal(AccountCode::Contract, true), Some(PayerRefusal::Contract));
    }

    /// The refusal texts are read by payers and operators: prefix first, wording unchanged.
    #[test]
    fn refusal_texts_are_unchanged() {
        let d = contracts::Address::repeat_byte(7);
        assert_eq!(
            PayerRefusal::Delegated { delegate: d }.to_string(),
            format!("payer-delegated: the payer's address carries an EIP-7702 delegation to {d}; this node does not accept delegated payers (settlement.accept_delegated_payers)")
        );
        assert_eq!(
            ClaimRefusal::from(PayerRefusal::Contract).to_string(),
            "payer-contract: the payer's address carries contract code; claims checked by ERC-1271 can be revoked, so they are not accepted"
        );
        let closed = ClaimRefusal::ChannelClosed { channel_id: "0xab".into(), status: ChannelStatus::Closing };
        assert_eq!(closed.to_string(), "channel-closed: channel 0xab is closing; open a new one");
        let lower = ClaimRefusal::Lower { claim: U256::from(5u64), previous: U256::from(7u64) };
        assert_eq!(lower.to_string(), "claim 5 is lower than the 7 already received");
        let over = ClaimRefusal::OverDeposit { claim: U256::from(9u64), deposit: U256::from(8u64) };
        assert_eq!(over.to_string(), "claim 9 exceeds the confirmed deposit 8");
        assert_eq!(
            ClaimRefusal::InvalidSignature(contracts::ClaimError::InvalidSignature).to_string(),
            "invalid claim: invalid signature"
        );
        assert_eq!(CloseError::NoOpenChannel { peer: "aa".into() }.to_string(), "no open channel from aa");
        assert_eq!(
            CloseError::NotOpen { channel_id: "0xab".into(), status: ChannelStatus::Closed }.to_string(),
            "channel 0xab is closed"
        );
        assert_eq!(
            super::super::parse_u256("x1").unwrap_err().to_string(),
            format!("amount \"x1\": {}", "x1".parse::<U256>().unwrap_err())
        );
    }
}
