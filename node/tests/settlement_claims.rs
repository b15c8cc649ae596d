//! The payee side of settlement under bad input, against a real anvil: a raw BTP peer (an
//! anvil dev key) opens a real channel to the node and sends claims. Invalid, lower,
//! replayed, over-deposit, wrong-chain and forged claims are refused with a reason and credit
//! nothing; a valid claim credits its increase exactly once.
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use btpnips::config::SettlementConfig;
use btpnips::node::Node;
use contracts::{sign_claim, ChannelClient, ChannelDomain, Claim, U256};
use futures_util::SinkExt;
use protocol::btp::{BtpPacket, ContentType, ProtocolData};
use protocol::btpnips::info::{ClaimMessage, SettlementInfo, CLAIM_PROTOCOL_NAME};
use support::{next, pubkey_of, test_config};
use tokio_tungstenite::tungstenite::Message;

/// Anvil's deterministic dev keys 0 and 1 (funded with 10 000 ETH each).
const NODE_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const PEER_KEY: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const OTHER_KEY: &str = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

struct AnvilProc(Child, String);
impl Drop for AnvilProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn anvil() -> AnvilProc {
    let bin = std::env::var("ANVIL_BIN").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil").into()
    });
    assert!(
        std::path::Path::new(&bin).is_file(),
        "anvil not found at {bin}: run npm ci in contracts/ (scripts/test.sh does)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        if line.contains("Listening on") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    AnvilProc(child, format!("http://127.0.0.1:{port}"))
}

/// A node with the anvil dev key 0, settling on `chain` with the deployment at `contract`.
async fn start_settling_node(
    chain: &AnvilProc,
    contract: contracts::Address,
    dir: &std::path::Path,
) -> std::sync::Arc<Node> {
    std::fs::write(dir.join("node.key"), NODE_KEY).unwrap();
    let mut config = test_config(dir);
    config.settlement = SettlementConfig {
        enabled: true,
        chain: "anvil".into(),
        rpc_url: Some(chain.1.clone()),
        contract: Some(contract.to_checksum(None)),
        close_margin_secs: 600,
        poll_interval_ms: 200,
        ..SettlementConfig::default()
    };
    Node::start(config).await.unwrap()
}

/// The claim message for `amount` on channel `id`, signed by `signer` for `domain`.
fn claim_message(domain: &ChannelDomain, id: contracts::B256, amount: U256, signer: &[u8; 32]) -> ClaimMessage {
    let signature = sign_claim(signer, domain, &Claim { channel_id: id, cumulative_amount: amount }).unwrap();
    ClaimMessage {
        chain_id: domain.chain_id,
        contract: domain.contract.to_checksum(None),
        channel_id: id.to_string(),
        cumulative_amount: amount.to_string(),
        signature: format!("0x{}", hex::encode(signature)),
    }
}

fn key(hex_key: &str) -> [u8; 32] {
    let mut k = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut k).unwrap();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_claims_are_refused_with_a_reason_and_a_good_one_counts_once() {
    let chain = anvil();
    let (node_key, peer_key) = (key(NODE_KEY), key(PEER_KEY));
    let contract = ChannelClient::deploy(&chain.1, &peer_key).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let node = start_settling_node(&chain, contract, dir.path()).await;
    let ours = node.info().settlement.unwrap();

    // The peer: a btpnips identity with settlement info, and a real channel paying the node.
    let peer_chain = ChannelClient::new(&chain.1, contract, &peer_key).unwrap();
    let peer_settlement = SettlementInfo {
        chain_id: 31337,
        contract: ours.contract.clone(),
        address: peer_chain.address().to_checksum(None),
        base_units_per_unit: ours.base_units_per_unit.clone(),
    };
    let (mut peer, _) = connect_with_settlement(&node, peer_key, peer_settlement).await;
    let now = peer_chain.block_timestamp().await.unwrap();
    let deposit = U256::from(10u64).pow(U256::from(15u64)); // 1e15 wei = 1 000 000 units
    let id = peer_chain.open_eth(ours.address.parse().unwrap(), deposit, now + 86_400).await.unwrap();
    let domain = ChannelDomain { chain_id: 31337, contract };
    let unit = U256::from(1_000_000_000u64);
    let claim = |amount: U256, signer: &[u8; 32], chain_id: u64| ClaimMessage {
        chain_id,
        ..claim_message(&domain, id, amount, signer)
    };
    let balance = |node: &Node| {
        let storage = node.storage.clone();
        let account = hex::encode(pubkey_of(&peer_key));
        async move { storage.account(&account).await.unwrap().map(|a| a.balance).unwrap_or(0) }
    };

    assert_eq!(send_claim(&mut peer, &claim(unit * U256::from(300u64), &peer_key, 31337)).await, Ok(()));
    assert_eq!(balance(&node).await, -300, "300 units credited");
    assert_eq!(
        send_claim(&mut peer, &claim(unit * U256::from(300u64), &peer_key, 31337)).await,
        Ok(()),
        "a replay is acknowledged"
    );
    assert_eq!(balance(&node).await, -300, "...and not counted twice");

    let refusals = [
        (claim(unit * U256::from(200u64), &peer_key, 31337), "lower"),
        (claim(deposit + unit, &peer_key, 31337), "exceeds the confirmed deposit"),
        (claim(unit * U256::from(400u64), &key(OTHER_KEY), 31337), "invalid claim"),
        (claim(unit * U256::from(400u64), &peer_key, 1), "another chain"),
    ];
    for (c, why) in refusals {
        let err = send_claim(&mut peer, &c).await.unwrap_err();
        assert!(err.contains(why), "{why}: {err}");
        assert_eq!(balance(&node).await, -300, "a refused claim credits nothing ({why})");
    }
    let mut bad_sig = claim(unit * U256::from(400u64), &peer_key, 31337);
    bad_sig.signature = format!("0x{}", "00".repeat(65));
    assert!(send_claim(&mut peer, &bad_sig).await.unwrap_err().contains("invalid claim"));

    assert_eq!(send_claim(&mut peer, &claim(unit * U256::from(450u64), &peer_key, 31337)).await, Ok(()));
    assert_eq!(balance(&node).await, -450, "only the increase counts");

    // Restart: the highest claim is still there and a replay still counts nothing.
    node.shutdown();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(peer);
    let mut config = test_config(dir.path());
    config.settlement = node.config.settlement.clone();
    let node = Node::start(config).await.unwrap();
    let (mut peer, _) = connect_with_settlement(&node, peer_key, node_settlement_of(&peer_chain, &ours)).await;
    assert_eq!(send_claim(&mut peer, &claim(unit * U256::from(450u64), &peer_key, 31337)).await, Ok(()));
    assert_eq!(balance(&node).await, -450);
    assert!(send_claim(&mut peer, &claim(unit * U256::from(400u64), &peer_key, 31337))
        .await
        .unwrap_err()
        .contains("lower"));
    let _ = node_key;
    node.shutdown();
}

fn node_settlement_of(peer_chain: &ChannelClient, ours: &SettlementInfo) -> SettlementInfo {
    SettlementInfo {
        chain_id: 31337,
        contract: ours.contract.clone(),
        address: peer_chain.address().to_checksum(None),
        base_units_per_unit: ours.base_units_per_unit.clone(),
    }
}

async fn connect_with_settlement(
    node: &Node,
    secret: [u8; 32],
    settlement: SettlementInfo,
) -> (support::Peer, BtpPacket) {
    let connected = support::connect_with(node, secret, None, Some(settlement)).await;
    tokio::time::sleep(Duration::from_millis(100)).await; // let the node register the link
    connected
}

/// Send a claim; `Ok` for a BTP Response, `Err(reason)` for a BTP Error.
async fn send_claim(peer: &mut support::Peer, claim: &ClaimMessage) -> Result<(), String> {
    peer.next_id += 1;
    let request_id = peer.next_id;
    let entry = ProtocolData {
        protocol_name: CLAIM_PROTOCOL_NAME.into(),
        content_type: ContentType::ApplicationJson,
        data: serde_json::to_vec(claim).unwrap(),
    };
    peer.ws
        .send(Message::binary(BtpPacket::Message { request_id, protocol_data: vec![entry] }.encode()))
        .await
        .unwrap();
    loop {
        match next(&mut peer.ws).await.expect("reply") {
            BtpPacket::Response { request_id: id, .. } if id == request_id => return Ok(()),
            BtpPacket::Error { request_id: id, data, .. } if id == request_id => {
                return Err(String::from_utf8_lossy(&data).into())
            }
            _ => continue,
        }
    }
}

/// anvil: give `who` the runtime `code` (empty = none). Under anvil's Prague rules a 23-byte
/// `0xef0100 || address` is a real EIP-7702 delegation designator.
async fn set_code(chain: &ChannelClient, who: contracts::Address, code: &[u8]) {
    use alloy::providers::Provider;
    let _: serde_json::Value =
        chain.provider().raw_request("anvil_setCode".into(), (who, format!("0x{}", hex::encode(code)))).await.unwrap();
}

/// Payers that can revoke (docs/btp-nips.md §"Settlement", contracts/README.md "Trust model"):
/// a payer whose address carries an EIP-7702 delegation is refused when its channel is first
/// seen; one that delegates after the node accepted its claims gets its channel closed on chain
/// at once with the highest claim (which the contract honours), and no further claim counts; a
/// payer whose address carries contract code is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payers_that_can_revoke_are_refused_and_a_late_delegation_closes_the_channel() {
    let chain = anvil();
    let (node_key, peer_key, other_key) = (key(NODE_KEY), key(PEER_KEY), key(OTHER_KEY));
    let contract = ChannelClient::deploy(&chain.1, &peer_key).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let node = start_settling_node(&chain, contract, dir.path()).await;
    let ours = node.info().settlement.unwrap();
    let node_address: contracts::Address = ours.address.parse().unwrap();
    let node_chain = ChannelClient::new(&chain.1, contract, &node_key).unwrap();
    let domain = ChannelDomain { chain_id: 31337, contract };
    let unit = U256::from(1_000_000_000u64);
    let deposit = U256::from(10u64).pow(U256::from(15u64));
    let claim = |id: contracts::B256, amount: U256, signer: &[u8; 32]| claim_message(&domain, id, amount, signer);
    let balance = |secret: [u8; 32]| {
        let storage = node.storage.clone();
        let account = hex::encode(pubkey_of(&secret));
        async move { storage.account(&account).await.unwrap().map(|a| a.balance).unwrap_or(0) }
    };
    let mut designator = vec![0xef, 0x01, 0x00];
    designator.extend_from_slice(&[0xde; 20]);

    // 1. A delegated payer is refused on first sight and nothing is credited.
    let peer_chain = ChannelClient::new(&chain.1, contract, &peer_key).unwrap();
    let (mut peer, _) = connect_with_settlement(&node, peer_key, node_settlement_of(&peer_chain, &ours)).await;
    let now = peer_chain.block_timestamp().await.unwrap();
    let id = peer_chain.open_eth(node_address, deposit, now + 86_400).await.unwrap();
    set_code(&peer_chain, peer_chain.address(), &designator).await;
    let err = send_claim(&mut peer, &claim(id, unit * U256::from(300u64), &peer_key)).await.unwrap_err();
    assert!(err.starts_with("payer-delegated:"), "{err}");
    assert_eq!(balance(peer_key).await, 0, "a refused payer is credited nothing");

    // 2. Without code it is accepted; then it delegates: the node closes the channel on chain
    //    with the highest claim, and a later, higher claim on it counts nothing.
    set_code(&peer_chain, peer_chain.address(), &[]).await;
    assert_eq!(send_claim(&mut peer, &claim(id, unit * U256::from(300u64), &peer_key)).await, Ok(()));
    assert_eq!(balance(peer_key).await, -300);
    set_code(&peer_chain, peer_chain.address(), &designator).await;
    let mut closed = false;
    for _ in 0..100 {
        if node_chain.channel(id).await.unwrap().closed {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed, "the node closed the channel once its payer delegated");
    let st = node_chain.channel(id).await.unwrap();
    assert_eq!(st.withdrawn, unit * U256::from(300u64), "closed with the highest claim");
    assert_eq!(
        node_chain.owed_eth(peer_chain.address()).await.unwrap(),
        deposit - unit * U256::from(300u64),
        "the payee took the claim, the payer gets only the rest"
    );
    let err = send_claim(&mut peer, &claim(id, unit * U256::from(400u64), &peer_key)).await.unwrap_err();
    assert!(err.starts_with("channel-closed:"), "{err}");
    assert_eq!(balance(peer_key).await, -300, "a claim on a closed channel counts nothing");

    // 3. A payer whose address carries contract code is refused.
    let other_chain = ChannelClient::new(&chain.1, contract, &other_key).unwrap();
    let (mut other, _) = connect_with_settlement(&node, other_key, node_settlement_of(&other_chain, &ours)).await;
    let id2 = other_chain.open_eth(node_address, deposit, now + 86_400).await.unwrap();
    set_code(&other_chain, other_chain.address(), &[0x60, 0x20, 0x60, 0x00, 0xf3]).await;
    let err = send_claim(&mut other, &claim(id2, unit * U256::from(100u64), &other_key)).await.unwrap_err();
    assert!(err.starts_with("payer-contract:"), "{err}");
    assert_eq!(balance(other_key).await, 0);
    node.shutdown();
}

/// The payer side across a lost receipt (docs/btp-nips.md §"Settlement"): the node sent its
/// channel open, the RPC went away before the receipt came back, and the open landed. The node
/// recorded the contract's channel nonce before sending, so on its next attempt it adopts the
/// channel at that nonce instead of opening (and paying a deposit for) a second one, and its
/// claim is on the adopted channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_whose_receipt_was_lost_is_adopted_not_repeated() {
    use storage::Op;
    let chain = anvil();
    let (node_key, peer_key) = (key(NODE_KEY), key(PEER_KEY));
    let contract = ChannelClient::deploy(&chain.1, &peer_key).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let node = start_settling_node(&chain, contract, dir.path()).await;
    let ours = node.info().settlement.unwrap();
    let peer_chain = ChannelClient::new(&chain.1, contract, &peer_key).unwrap();
    let peer_account = hex::encode(pubkey_of(&peer_key));

    // What the node's earlier attempt did before the RPC went away: record the nonce, open.
    let as_node = ChannelClient::new(&chain.1, contract, &node_key).unwrap();
    assert_eq!(as_node.channel_nonce(as_node.address()).await.unwrap(), U256::ZERO);
    node.storage
        .writer()
        .submit(vec![Op::SetMeta { key: format!("settlement.opening.{peer_account}"), value: "0".into() }])
        .await
        .unwrap();
    let now = as_node.block_timestamp().await.unwrap();
    let deposit = U256::from(10u64).pow(U256::from(15u64));
    let landed = as_node.open_eth(peer_chain.address(), deposit, now + 86_400).await.unwrap();

    // The peer links; the node owes it more than its settle threshold.
    let (mut peer, _) = connect_with_settlement(&node, peer_key, node_settlement_of(&peer_chain, &ours)).await;
    let debt = btpnips::connector::ledger_entry(&node, &peer_account, -20_000, "test:debt".into(), "test debt");
    node.storage.writer().submit(vec![Op::Ledger(debt)]).await.unwrap();

    // The node's claim arrives on the channel that landed; acknowledge it.
    let claim: ClaimMessage = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match next(&mut peer.ws).await.expect("link open") {
                BtpPacket::Message { request_id, protocol_data }
                    if protocol_data.first().is_some_and(|p| p.protocol_name == CLAIM_PROTOCOL_NAME) =>
                {
                    let claim = serde_json::from_slice(&protocol_data[0].data).unwrap();
                    let ok = BtpPacket::Response { request_id, protocol_data: vec![] };
                    peer.ws.send(Message::binary(ok.encode())).await.unwrap();
                    break claim;
                }
                _ => continue,
            }
        }
    })
    .await
    .expect("a claim within 20 s");
    assert_eq!(claim.channel_id, landed.to_string(), "the claim is on the channel that landed");
    assert_eq!(claim.cumulative_amount, (U256::from(20_000u64) * U256::from(1_000_000_000u64)).to_string());
    assert_eq!(as_node.channel_nonce(as_node.address()).await.unwrap(), U256::from(1u64), "no second open");
    let record = node.storage.channels().await.unwrap().into_iter().find(|c| c.channel_id == landed.to_string());
    assert_eq!(record.expect("adopted channel stored").deposit, deposit.to_string());
    assert_eq!(node.storage.meta(&format!("settlement.opening.{peer_account}")).await.unwrap().as_deref(), Some(""));
    node.shutdown();
}
