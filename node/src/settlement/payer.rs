//! Paying a peer: open a channel, top it up, sign cumulative claims, deliver them.
use std::sync::Arc;
use std::time::Duration;

use contracts::ChainError;
use contracts::{sign_claim, Claim, B256};
use protocol::btp::{ContentType, ProtocolData};
use protocol::btpnips::info::{ClaimMessage, SettlementInfo, CLAIM_PROTOCOL_NAME};
use storage::{ChannelRecord, ChannelStatus, Direction, Op};

use super::{parse_u256, to_base, Engine, PayError};
use crate::node::Node;

/// One look at what we owe `peer`: sign a new claim when it passes the threshold, and
/// (re)send the latest claim until the peer acknowledged it.
pub(super) async fn step(node: &Arc<Node>, engine: &Engine, peer: &str, info: &SettlementInfo) -> Result<(), PayError> {
    let balance = node.storage.account(peer).await?.map(|a| a.balance).unwrap_or(0);
    let owed = if balance < 0 { balance.unsigned_abs() } else { 0 };
    if owed >= engine.config.settle_threshold && owed > 0 {
        sign_new_claim(node, engine, peer, info, owed).await?;
    }
    deliver_latest(node, engine, peer).await
}

async fn sign_new_claim(
    node: &Arc<Node>,
    engine: &Engine,
    peer: &str,
    info: &SettlementInfo,
    owed: u64,
) -> Result<(), PayError> {
    // The chain's clock when it answers; while it cannot be reached, claims within the known
    // deposit of a live channel go on being signed against our own clock (the expiry margin,
    // `close_margin_secs`, dwarfs any drift) — only opening and topping up wait for the chain.
    let chain_now = engine.client.block_timestamp().await;
    let now = match &chain_now {
        Ok(t) => *t,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "settlement: chain unreachable; signing within the known deposit");
            crate::clock::now_secs()
        }
    };
    let mut ch = match engine.channel(peer, Direction::Outbound) {
        Some(c) if c.status.is_open() && c.expiry > now + engine.config.close_margin_secs => c,
        _ => open(node, engine, peer, info, chain_now.clone().map_err(PayError::ChainTime)?).await?,
    };
    let new_cum = parse_u256(&ch.claimed)? + to_base(engine, owed);
    let id: B256 = ch.channel_id.parse().map_err(|e| PayError::ChannelId(format!("{e}")))?;
    if new_cum > parse_u256(&ch.deposit)? {
        let now = chain_now.map_err(PayError::ChainTime)?;
        // A top-up whose receipt never reached us (the RPC went away) may have landed: the
        // chain's deposit is the truth, so it is never paid twice.
        let state = engine.client.channel(id).await.map_err(PayError::TopUp)?;
        if state.deposit > parse_u256(&ch.deposit)? || state.expiry > ch.expiry {
            tracing::info!(%peer, channel = %ch.channel_id, deposit = %state.deposit, "settlement: adopted the chain's deposit");
            ch.deposit = state.deposit.to_string();
            ch.expiry = ch.expiry.max(state.expiry);
        }
        let deposit = parse_u256(&ch.deposit)?;
        if new_cum > deposit {
            let needed = new_cum - deposit;
            let amount = needed.max(to_base(engine, engine.config.deposit));
            let expiry = ch.expiry.max(now + engine.config.channel_lifetime_secs);
            engine.client.top_up_eth(id, amount, expiry).await.map_err(PayError::TopUp)?;
            tracing::info!(%peer, channel = %ch.channel_id, amount = %amount, "settlement: topped up channel");
            ch.deposit = (deposit + amount).to_string();
            ch.expiry = expiry;
        }
    }
    let signature =
        sign_claim(&node.key.secret, &engine.domain, &Claim { channel_id: id, cumulative_amount: new_cum })?;
    ch.claimed = new_cum.to_string();
    ch.signature = Some(format!("0x{}", hex::encode(signature)));
    ch.revision += 1;
    ch.updated_at = crate::clock::now_secs();
    // The signed claim is as good as paid once it leaves us: record both in one commit.
    let entry = crate::connector::ledger_entry(
        node,
        peer,
        owed as i64,
        format!("claim-out:{}:{}", ch.channel_id, ch.claimed),
        "signed payment-channel claim",
    );
    node.storage.writer().submit(vec![Op::UpsertChannel(ch.clone()), Op::Ledger(entry)]).await?;
    tracing::info!(%peer, channel = %ch.channel_id, cumulative = %ch.claimed, units = owed, "settlement: signed claim");
    engine.remember(ch);
    Ok(())
}

/// Meta key holding the contract's channel nonce of an open to `peer` that was sent but not
/// yet recorded (empty: none).
fn opening_key(peer: &str) -> String {
    format!("settlement.opening.{peer}")
}

/// Open a channel to `peer` with the configured deposit; returns it once the chain confirmed
/// it (the deposit counts only then).
///
/// Exactly once, even when the RPC goes away between sending the transaction and reading its
/// receipt: the contract's channel nonce is recorded before the transaction is sent; on the
/// next attempt, a channel at that nonce on chain is adopted instead of opening another, and
/// while our transaction may still be in the pool nothing new is sent ([`PayError::OpenPending`]).
async fn open(
    node: &Arc<Node>,
    engine: &Engine,
    peer: &str,
    info: &SettlementInfo,
    now: u64,
) -> Result<ChannelRecord, PayError> {
    let recipient: contracts::Address = info.address.parse().map_err(|e| PayError::PeerAddress(format!("{e}")))?;
    let me = engine.client.address();
    let key = opening_key(peer);
    let chain_nonce = engine.client.channel_nonce(me).await.map_err(PayError::Open)?;
    let earlier = node.storage.meta(&key).await?.filter(|v| !v.is_empty());
    let opened = match earlier.as_deref().map(str::parse::<contracts::U256>) {
        Some(Ok(nonce)) if chain_nonce > nonce => {
            let id = engine.client.channel_id_for(me, recipient, contracts::Address::ZERO, nonce).await;
            let id = id.map_err(PayError::Open)?;
            match engine.client.channel(id).await {
                Ok(state) => {
                    tracing::warn!(%peer, channel = %id, "settlement: adopted a channel whose open we did not see confirmed");
                    Some((id, state.deposit, state.expiry))
                }
                // That nonce went to a channel to another peer: our earlier open never landed.
                Err(contracts::ChainError::ChannelNotFound(_)) => None,
                Err(e) => return Err(PayError::Open(e)),
            }
        }
        Some(Ok(nonce)) if engine.client.has_pending_transactions().await.map_err(PayError::Open)? => {
            return Err(PayError::OpenPending { nonce: nonce.to_string() });
        }
        _ => None,
    };
    let (id, deposit, expiry) = match opened {
        Some(found) => found,
        None => {
            let deposit = to_base(engine, engine.config.deposit);
            let expiry = now + engine.config.channel_lifetime_secs;
            node.storage
                .writer()
                .submit(vec![Op::SetMeta { key: key.clone(), value: chain_nonce.to_string() }])
                .await?;
            let id = engine.client.open_eth(recipient, deposit, expiry).await.map_err(PayError::Open)?;
            (id, deposit, expiry)
        }
    };
    let record = ChannelRecord {
        peer: peer.to_owned(),
        direction: Direction::Outbound,
        channel_id: id.to_string(),
        chain_id: engine.domain.chain_id,
        contract: engine.domain.contract.to_checksum(None),
        sender: me.to_checksum(None),
        recipient: recipient.to_checksum(None),
        deposit: deposit.to_string(),
        expiry,
        claimed: "0".into(),
        signature: None,
        status: ChannelStatus::Open,
        revision: 1,
        updated_at: crate::clock::now_secs(),
    };
    node.storage
        .writer()
        .submit(vec![Op::UpsertChannel(record.clone()), Op::SetMeta { key, value: String::new() }])
        .await?;
    tracing::info!(%peer, channel = %record.channel_id, deposit = %deposit, expiry, "settlement: opened channel");
    engine.remember(record.clone());
    Ok(record)
}

/// Send the latest signed claim if the peer has not acknowledged it yet.
async fn deliver_latest(node: &Arc<Node>, engine: &Engine, peer: &str) -> Result<(), PayError> {
    let Some(ch) = engine.channel(peer, Direction::Outbound) else { return Ok(()) };
    let Some(signature) = ch.signature.clone() else { return Ok(()) };
    if engine.acked.lock().expect("poisoned").get(&ch.channel_id) == Some(&ch.claimed) {
        return Ok(());
    }
    let Some(link) = node.links.get(peer) else { return Ok(()) };
    let msg = ClaimMessage {
        chain_id: ch.chain_id,
        contract: ch.contract.clone(),
        channel_id: ch.channel_id.clone(),
        cumulative_amount: ch.claimed.clone(),
        signature,
    };
    let entry = ProtocolData {
        protocol_name: CLAIM_PROTOCOL_NAME.into(),
        content_type: ContentType::ApplicationJson,
        data: serde_json::to_vec(&msg).expect("serializes"),
    };
    match link.send_message(vec![entry], Duration::from_secs(30)).await {
        Ok(_) => {
            tracing::info!(%peer, channel = %ch.channel_id, cumulative = %ch.claimed, "settlement: peer accepted claim");
            engine.acked.lock().expect("poisoned").insert(ch.channel_id, ch.claimed);
            Ok(())
        }
        Err(source) => Err(PayError::NotAccepted { claim: ch.claimed, source }),
    }
}

/// The refund owed to us after one of our channels closed: pull it. `Ok` also when nothing is
/// owed (a channel claimed to its full deposit leaves no refund).
pub(super) async fn claim_refund(engine: &Engine) -> Result<(), ChainError> {
    if engine.client.owed_eth(engine.client.address()).await?.is_zero() {
        tracing::info!("settlement: nothing to refund");
        return Ok(());
    }
    match engine.client.claim_refund_eth().await {
        Ok(tx) => {
            tracing::info!(tx = %tx.tx_hash, "settlement: pulled refund");
            Ok(())
        }
        Err(e) => Err(e),
    }
}
