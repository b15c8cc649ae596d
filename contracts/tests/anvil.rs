//! End-to-end tests against a real anvil (npm `@foundry-rs/anvil`, installed by `npm ci` in
//! `contracts/`; or any anvil binary named by the `ANVIL_BIN` environment variable). Each test
//! spawns its own anvil on a free port and deploys the committed artifact.

use std::path::PathBuf;

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{keccak256, utils::parse_ether, Address, B256, U256};
use alloy::providers::Provider;
use contracts::bindings::UnidirectionalChannel;
use contracts::{
    claim_digest, evm_address, recover_signer, sign_claim, verify_claim, ChainError, ChannelClient, ChannelDomain,
    ChannelEventKind, Claim, ClaimError, CLAIM_TYPE, DOMAIN_NAME, DOMAIN_VERSION,
};

/// secp256k1 group order (to build a high-s twin of a signature).
const N: U256 = U256::from_be_slice(&alloy::hex!("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"));

fn anvil_bin() -> PathBuf {
    let path = match std::env::var_os("ANVIL_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"),
    };
    assert!(
        path.is_file(),
        "anvil not found at {}: run `npm ci` in contracts/ (installs @foundry-rs/anvil), or set ANVIL_BIN",
        path.display()
    );
    path
}

/// Spawns anvil on a free port (never `--silent`: `spawn` waits for the "Listening on" line).
fn spawn_anvil(chain_id: Option<u64>) -> AnvilInstance {
    let anvil = Anvil::at(anvil_bin());
    match chain_id {
        Some(id) => anvil.chain_id(id).spawn(),
        None => anvil.spawn(),
    }
}

fn key(anvil: &AnvilInstance, i: usize) -> [u8; 32] {
    let mut k = [0u8; 32];
    k.copy_from_slice(&anvil.keys()[i].to_bytes());
    k
}

fn eth(s: &str) -> U256 {
    parse_ether(s).unwrap()
}

/// One anvil with a deployment; sender = dev account 0, recipient = 1, deployer/third party = 2.
struct Env {
    anvil: AnvilInstance,
    contract: Address,
    sender_key: [u8; 32],
    recipient_key: [u8; 32],
    sender: ChannelClient,
    recipient: ChannelClient,
    third: ChannelClient,
}

impl Env {
    async fn new() -> Self {
        Self::with_chain_id(None).await
    }

    async fn with_chain_id(chain_id: Option<u64>) -> Self {
        let anvil = spawn_anvil(chain_id);
        let url = anvil.endpoint();
        let (sender_key, recipient_key, third_key) = (key(&anvil, 0), key(&anvil, 1), key(&anvil, 2));
        let contract = ChannelClient::deploy(&url, &third_key).await.expect("deploy");
        let client = |k: &[u8; 32]| ChannelClient::new(&url, contract, k).unwrap();
        Self {
            sender: client(&sender_key),
            recipient: client(&recipient_key),
            third: client(&third_key),
            anvil,
            contract,
            sender_key,
            recipient_key,
        }
    }

    fn domain(&self) -> ChannelDomain {
        ChannelDomain { chain_id: self.anvil.chain_id(), contract: self.contract }
    }

    /// Opens an ETH channel sender → recipient expiring in `ttl` seconds.
    async fn open(&self, deposit: U256, ttl: u64) -> B256 {
        let now = self.sender.block_timestamp().await.unwrap();
        self.sender.open_eth(self.recipient.address(), deposit, now + ttl).await.unwrap()
    }

    fn sign(&self, id: B256, amount: U256) -> [u8; 65] {
        sign_claim(&self.sender_key, &self.domain(), &Claim { channel_id: id, cumulative_amount: amount }).unwrap()
    }

    fn instance(&self) -> UnidirectionalChannel::UnidirectionalChannelInstance<&alloy::providers::DynProvider> {
        UnidirectionalChannel::new(self.contract, self.sender.provider())
    }

    /// anvil: moves the clock forward and mines a block with the new time.
    async fn advance_time(&self, secs: u64) {
        let p = self.sender.provider();
        let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (secs,)).await.unwrap();
        let _: serde_json::Value = p.raw_request("evm_mine".into(), Vec::<u64>::new()).await.unwrap();
    }
}

fn reverted(r: Result<impl std::fmt::Debug, ChainError>, name: &str) {
    match r {
        Err(ChainError::Reverted(n)) if n == name => {}
        other => panic!("expected Reverted({name:?}), got {other:?}"),
    }
}

#[tokio::test]
async fn deploy_and_open() {
    let env = Env::new().await;
    assert_eq!(env.sender.domain().await.unwrap(), ChannelDomain { chain_id: 31337, contract: env.contract });
    assert_eq!(env.sender.address(), evm_address(&env.sender_key).unwrap());
    assert_eq!(env.sender.address(), env.anvil.addresses()[0]);

    let now = env.sender.block_timestamp().await.unwrap();
    let id = env.sender.open_eth(env.recipient.address(), eth("1"), now + 3600).await.unwrap();
    let expected_id = env
        .instance()
        .computeChannelId(env.sender.address(), env.recipient.address(), Address::ZERO, U256::ZERO)
        .call()
        .await
        .unwrap();
    assert_eq!(id, expected_id);

    let st = env.recipient.channel(id).await.unwrap();
    assert_eq!(st.sender, env.sender.address());
    assert_eq!(st.recipient, env.recipient.address());
    assert_eq!(st.token, Address::ZERO);
    assert_eq!(st.deposit, eth("1"));
    assert_eq!(st.withdrawn, U256::ZERO);
    assert_eq!(st.expiry, now + 3600);
    assert!(!st.closed);
    assert_eq!(env.sender.balance(env.contract).await.unwrap(), eth("1"));

    // A second open gets a fresh id (nonce 1).
    let id2 = env.sender.open_eth(env.recipient.address(), eth("0.5"), now + 3600).await.unwrap();
    assert_ne!(id, id2);

    assert_eq!(env.sender.channel(B256::repeat_byte(7)).await, Err(ChainError::ChannelNotFound(B256::repeat_byte(7))));
    // Contract-level checks surface as decoded custom errors.
    reverted(env.sender.open_eth(env.sender.address(), eth("1"), now + 3600).await, "InvalidRecipient");
    reverted(env.sender.open_eth(env.recipient.address(), eth("1"), now).await, "ExpiryNotInFuture");
    reverted(env.recipient.top_up_eth(id, eth("1"), now + 3600).await, "NotSender");
}

#[tokio::test]
async fn digest_and_domain_separator_match_chain() {
    let env = Env::new().await;
    let c = env.instance();
    let domain = env.sender.domain().await.unwrap();
    assert_eq!(domain.separator(), c.domainSeparator().call().await.unwrap());
    assert_eq!(keccak256(CLAIM_TYPE), c.CLAIM_TYPEHASH().call().await.unwrap());
    let d = c.eip712Domain().call().await.unwrap();
    assert_eq!((d.name.as_str(), d.version.as_str()), (DOMAIN_NAME, DOMAIN_VERSION));
    assert_eq!(d.chainId, U256::from(31337));
    assert_eq!(d.verifyingContract, env.contract);

    let id = env.open(eth("1"), 3600).await;
    for amount in [U256::ZERO, U256::from(1), eth("0.123456789"), U256::MAX] {
        for channel_id in [id, B256::repeat_byte(0xab)] {
            let claim = Claim { channel_id, cumulative_amount: amount };
            assert_eq!(claim_digest(&domain, &claim), c.claimDigest(channel_id, amount).call().await.unwrap());
        }
    }
}

#[tokio::test]
async fn rust_signed_claim_closes_and_pays_exactly() {
    let env = Env::new().await;
    let id = env.open(eth("1"), 3600).await;
    let amount = eth("0.4");
    let sig = env.sign(id, amount);
    let claim = Claim { channel_id: id, cumulative_amount: amount };
    // What Rust recovers is the channel's on-chain sender, and the contract accepts it.
    let st = env.recipient.channel(id).await.unwrap();
    assert_eq!(recover_signer(&env.domain(), &claim, &sig).unwrap(), st.sender);
    verify_claim(&env.domain(), &claim, &sig, st.sender).unwrap();

    let before = env.recipient.balance(env.recipient.address()).await.unwrap();
    let out = env.recipient.close(id, amount, &sig).await.unwrap();
    let after = env.recipient.balance(env.recipient.address()).await.unwrap();
    assert!(out.gas_used > 0 && out.effective_gas_price > 0);
    assert_eq!(out.fee(), U256::from(out.gas_used) * U256::from(out.effective_gas_price));
    assert_eq!(after, before + amount - out.fee(), "recipient gets exactly the claim minus its gas");

    let st = env.recipient.channel(id).await.unwrap();
    assert!(st.closed);
    assert_eq!(st.withdrawn, amount);
    assert_eq!(env.sender.owed_eth(env.sender.address()).await.unwrap(), eth("0.6"));
    reverted(env.recipient.close(id, amount, &sig).await, "ChannelAlreadyClosed");

    // The sender pulls its refund.
    let before = env.sender.balance(env.sender.address()).await.unwrap();
    let out = env.sender.claim_refund_eth().await.unwrap();
    let after = env.sender.balance(env.sender.address()).await.unwrap();
    assert_eq!(after, before + eth("0.6") - out.fee());
    assert_eq!(env.sender.balance(env.contract).await.unwrap(), U256::ZERO);
}

#[tokio::test]
async fn claim_above_deposit_pays_only_the_deposit() {
    let env = Env::new().await;
    let id = env.open(eth("1"), 3600).await;
    let sig = env.sign(id, eth("5"));
    let before = env.recipient.balance(env.recipient.address()).await.unwrap();
    let out = env.recipient.close(id, eth("5"), &sig).await.unwrap();
    let after = env.recipient.balance(env.recipient.address()).await.unwrap();
    assert_eq!(after, before + eth("1") - out.fee());
    assert_eq!(env.sender.owed_eth(env.sender.address()).await.unwrap(), U256::ZERO);
}

#[tokio::test]
async fn wrong_signer_high_s_and_bad_v_are_refused_by_both() {
    let env = Env::new().await;
    let id = env.open(eth("1"), 3600).await;
    let amount = eth("0.25");
    let claim = Claim { channel_id: id, cumulative_amount: amount };
    let domain = env.domain();
    let sender = env.sender.address();

    // Signed by another key (the recipient's own).
    let forged = sign_claim(&env.recipient_key, &domain, &claim).unwrap();
    assert_eq!(recover_signer(&domain, &claim, &forged).unwrap(), env.recipient.address());
    assert_eq!(
        verify_claim(&domain, &claim, &forged, sender),
        Err(ClaimError::WrongSigner { expected: sender, got: env.recipient.address() })
    );
    reverted(env.recipient.close(id, amount, &forged).await, "InvalidSignature");
    reverted(env.recipient.withdraw(id, amount, &forged).await, "InvalidSignature");

    // The malleable high-s twin of a good signature.
    let good = env.sign(id, amount);
    let mut high_s = good;
    let s = U256::from_be_slice(&good[32..64]);
    high_s[32..64].copy_from_slice(&(N - s).to_be_bytes::<32>());
    high_s[64] = if good[64] == 27 { 28 } else { 27 };
    assert_eq!(verify_claim(&domain, &claim, &high_s, sender), Err(ClaimError::HighS));
    reverted(env.recipient.close(id, amount, &high_s).await, "InvalidSignature");

    // v outside {27, 28}.
    let mut bad_v = good;
    bad_v[64] -= 27;
    assert_eq!(verify_claim(&domain, &claim, &bad_v, sender), Err(ClaimError::InvalidV(good[64] - 27)));
    reverted(env.recipient.close(id, amount, &bad_v).await, "InvalidSignature");

    // Only the recipient may use a claim.
    reverted(env.third.close(id, amount, &good).await, "NotRecipient");
    reverted(env.sender.withdraw(id, amount, &good).await, "NotRecipient");

    // The genuine one passes both.
    verify_claim(&domain, &claim, &good, sender).unwrap();
    env.recipient.close(id, amount, &good).await.unwrap();
}

#[tokio::test]
async fn tampered_amount_fails_both() {
    let env = Env::new().await;
    let id = env.open(eth("1"), 3600).await;
    let sig = env.sign(id, eth("0.3"));
    let tampered = Claim { channel_id: id, cumulative_amount: eth("0.31") };
    assert!(matches!(
        verify_claim(&env.domain(), &tampered, &sig, env.sender.address()),
        Err(ClaimError::WrongSigner { .. })
    ));
    reverted(env.recipient.withdraw(id, eth("0.31"), &sig).await, "InvalidSignature");
    reverted(env.recipient.close(id, eth("0.31"), &sig).await, "InvalidSignature");
    // Same signature, wrong channel.
    let other = env.open(eth("1"), 3600).await;
    reverted(env.recipient.close(other, eth("0.3"), &sig).await, "InvalidSignature");
    // Untampered works.
    env.recipient.close(id, eth("0.3"), &sig).await.unwrap();
}

#[tokio::test]
async fn claims_are_bound_to_deployment_and_chain() {
    let env = Env::new().await;
    let url = env.anvil.endpoint();
    // Second deployment on the same chain.
    let contract2 = ChannelClient::deploy(&url, &key(&env.anvil, 3)).await.unwrap();
    assert_ne!(contract2, env.contract);
    let sender2 = ChannelClient::new(&url, contract2, &env.sender_key).unwrap();
    let recipient2 = ChannelClient::new(&url, contract2, &env.recipient_key).unwrap();
    let now = sender2.block_timestamp().await.unwrap();
    let id2 = sender2.open_eth(recipient2.address(), eth("1"), now + 3600).await.unwrap();
    let domain2 = sender2.domain().await.unwrap();
    let claim = Claim { channel_id: id2, cumulative_amount: eth("0.2") };

    // Signed under deployment 1's domain (right channel id, wrong verifyingContract).
    let sig_wrong_contract = sign_claim(&env.sender_key, &env.domain(), &claim).unwrap();
    verify_claim(&env.domain(), &claim, &sig_wrong_contract, env.sender.address()).unwrap();
    assert!(matches!(
        verify_claim(&domain2, &claim, &sig_wrong_contract, env.sender.address()),
        Err(ClaimError::WrongSigner { .. })
    ));
    reverted(recipient2.close(id2, eth("0.2"), &sig_wrong_contract).await, "InvalidSignature");

    // Another chain (chain id 8453) where the same deployer nonce yields the same contract address.
    let env_b = Env::with_chain_id(Some(8453)).await;
    assert_eq!(env_b.contract, env.contract, "same deployer + nonce ⇒ same address on both chains");
    let domain_b = env_b.recipient.domain().await.unwrap();
    assert_eq!(domain_b, ChannelDomain { chain_id: 8453, contract: env.contract });
    let id_b = env_b.open(eth("1"), 3600).await;
    let claim_b = Claim { channel_id: id_b, cumulative_amount: eth("0.2") };
    // A claim signed for chain 31337 verifies for 31337 only, and chain 8453 refuses it.
    let sig_x = sign_claim(&env.sender_key, &env.domain(), &claim_b).unwrap();
    verify_claim(&env.domain(), &claim_b, &sig_x, env.sender.address()).unwrap();
    assert!(matches!(
        verify_claim(&domain_b, &claim_b, &sig_x, env.sender.address()),
        Err(ClaimError::WrongSigner { .. })
    ));
    reverted(env_b.recipient.close(id_b, eth("0.2"), &sig_x).await, "InvalidSignature");

    // Correctly bound claims are accepted on both.
    let ok2 = sign_claim(&env.sender_key, &domain2, &claim).unwrap();
    recipient2.close(id2, eth("0.2"), &ok2).await.unwrap();
    env_b.recipient.close(id_b, eth("0.2"), &env_b.sign(id_b, eth("0.2"))).await.unwrap();
}

#[tokio::test]
async fn withdraw_then_close_pays_only_the_remainder() {
    let env = Env::new().await;
    let id = env.open(eth("1"), 3600).await;
    let me = env.recipient.address();

    let b0 = env.recipient.balance(me).await.unwrap();
    let w = env.recipient.withdraw(id, eth("0.3"), &env.sign(id, eth("0.3"))).await.unwrap();
    let b1 = env.recipient.balance(me).await.unwrap();
    assert_eq!(b1, b0 + eth("0.3") - w.fee());
    let st = env.recipient.channel(id).await.unwrap();
    assert_eq!((st.withdrawn, st.closed, st.remaining()), (eth("0.3"), false, eth("0.7")));
    reverted(env.recipient.withdraw(id, eth("0.3"), &env.sign(id, eth("0.3"))).await, "NothingToWithdraw");
    reverted(env.recipient.close(id, eth("0.2"), &env.sign(id, eth("0.2"))).await, "ClaimBelowWithdrawn");

    let c = env.recipient.close(id, eth("0.5"), &env.sign(id, eth("0.5"))).await.unwrap();
    let b2 = env.recipient.balance(me).await.unwrap();
    assert_eq!(b2, b1 + eth("0.2") - c.fee(), "close pays only 0.5 - 0.3");
    let st = env.recipient.channel(id).await.unwrap();
    assert_eq!((st.withdrawn, st.closed), (eth("0.5"), true));
    assert_eq!(env.sender.owed_eth(env.sender.address()).await.unwrap(), eth("0.5"));
}

#[tokio::test]
async fn reclaim_after_expiry_then_claim_refund() {
    let env = Env::new().await;
    let id = env.open(eth("2"), 100).await;
    reverted(env.third.reclaim(id).await, "ChannelNotExpired");
    reverted(env.sender.claim_refund_eth().await, "NothingOwed");

    env.advance_time(101).await;
    let st = env.sender.channel(id).await.unwrap();
    assert!(env.sender.block_timestamp().await.unwrap() >= st.expiry);
    assert!(!st.is_live_at(env.sender.block_timestamp().await.unwrap()));
    // Too late for the recipient.
    reverted(env.recipient.close(id, eth("1"), &env.sign(id, eth("1"))).await, "ChannelExpired");
    reverted(env.sender.top_up_eth(id, eth("1"), st.expiry + 1000).await, "ChannelExpired");

    // Anyone may reclaim for the sender.
    env.third.reclaim(id).await.unwrap();
    assert!(env.sender.channel(id).await.unwrap().closed);
    assert_eq!(env.sender.owed_eth(env.sender.address()).await.unwrap(), eth("2"));
    reverted(env.third.reclaim(id).await, "ChannelAlreadyClosed");

    let before = env.sender.balance(env.sender.address()).await.unwrap();
    let out = env.sender.claim_refund_eth().await.unwrap();
    let after = env.sender.balance(env.sender.address()).await.unwrap();
    assert_eq!(after, before + eth("2") - out.fee());
    reverted(env.sender.claim_refund_eth().await, "NothingOwed");
}

#[tokio::test]
async fn events_since_returns_the_sequence() {
    let env = Env::new().await;
    let start = env.sender.provider().get_block_number().await.unwrap() + 1;
    let now = env.sender.block_timestamp().await.unwrap();

    let a = env.sender.open_eth(env.recipient.address(), eth("1"), now + 3600).await.unwrap();
    env.sender.top_up_eth(a, eth("0.5"), now + 7200).await.unwrap();
    env.recipient.withdraw(a, eth("0.4"), &env.sign(a, eth("0.4"))).await.unwrap();
    env.recipient.close(a, eth("0.6"), &env.sign(a, eth("0.6"))).await.unwrap();
    let b = env.sender.open_eth(env.recipient.address(), eth("0.25"), now + 7300).await.unwrap();
    env.advance_time(8000).await;
    env.third.reclaim(b).await.unwrap();
    env.sender.claim_refund_eth().await.unwrap();

    let sender = env.sender.address();
    let recipient = env.recipient.address();
    let expected = vec![
        ChannelEventKind::Opened {
            channel_id: a,
            sender,
            recipient,
            token: Address::ZERO,
            amount: eth("1"),
            expiry: now + 3600,
        },
        ChannelEventKind::ToppedUp { channel_id: a, amount: eth("0.5"), new_deposit: eth("1.5"), expiry: now + 7200 },
        ChannelEventKind::Withdrawn { channel_id: a, cumulative_amount: eth("0.4"), paid: eth("0.4") },
        ChannelEventKind::Closed {
            channel_id: a,
            cumulative_amount: eth("0.6"),
            paid_to_recipient: eth("0.2"),
            refunded_to_sender: eth("0.9"),
        },
        ChannelEventKind::Opened {
            channel_id: b,
            sender,
            recipient,
            token: Address::ZERO,
            amount: eth("0.25"),
            expiry: now + 7300,
        },
        ChannelEventKind::Reclaimed { channel_id: b, refunded: eth("0.25") },
        ChannelEventKind::RefundClaimed { owner: sender, token: Address::ZERO, amount: eth("1.15"), to: sender },
    ];

    // One call covers everything (default range 2 000 blocks).
    let head = env.sender.provider().get_block_number().await.unwrap();
    let (events, next) = env.third.events_since(0).await.unwrap();
    assert_eq!(next, head + 1);
    assert_eq!(events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(), expected);
    assert!(events.windows(2).all(|w| (w[0].block_number, w[0].log_index) < (w[1].block_number, w[1].log_index)));
    assert!(events.iter().all(|e| e.block_number >= start && e.tx_hash != B256::ZERO));
    assert_eq!(events[0].channel_id(), Some(a));
    assert_eq!(events[6].channel_id(), None);

    // A watcher with a 1-block window walks the chain and sees the same sequence.
    let watcher = env.third.clone().with_max_log_range(1);
    let (mut from, mut seen) = (start, Vec::new());
    let mut calls = 0;
    while from <= head {
        let (ev, next) = watcher.events_since(from).await.unwrap();
        assert_eq!(next, from + 1);
        seen.extend(ev.into_iter().map(|e| e.kind));
        from = next;
        calls += 1;
    }
    assert_eq!(seen, expected);
    assert_eq!(calls, head + 1 - start);

    // Caught up: nothing new, cursor unchanged.
    let (ev, next) = watcher.events_since(head + 1).await.unwrap();
    assert!(ev.is_empty());
    assert_eq!(next, head + 1);
}

#[tokio::test]
async fn top_up_rules() {
    let env = Env::new().await;
    let now = env.sender.block_timestamp().await.unwrap();
    let id = env.sender.open_eth(env.recipient.address(), eth("1"), now + 3600).await.unwrap();
    reverted(env.sender.top_up_eth(id, eth("1"), now + 3000).await, "ExpiryShortened");
    reverted(env.sender.top_up_eth(id, U256::ZERO, now + 3600).await, "ZeroAmount");
    env.sender.top_up_eth(id, U256::ZERO, now + 9000).await.unwrap(); // extend only
    env.sender.top_up_eth(id, eth("0.5"), now + 9000).await.unwrap(); // funds only
    let st = env.sender.channel(id).await.unwrap();
    assert_eq!((st.deposit, st.expiry), (eth("1.5"), now + 9000));
    // The extension keeps the channel usable past the old expiry.
    env.advance_time(4000).await;
    env.recipient.close(id, eth("1.5"), &env.sign(id, eth("1.5"))).await.unwrap();
}

/// Regression: with alloy's default `CachedNonceManager` a call whose gas estimation reverted
/// could keep its reserved nonce, so the next real transaction waited behind a nonce gap forever.
#[tokio::test]
async fn reverted_calls_leave_no_nonce_gap() {
    let env = Env::new().await;
    let recipient = env.recipient.clone().with_receipt_timeout(std::time::Duration::from_secs(10));
    let id = env.open(eth("1"), 3600).await;
    let forged =
        sign_claim(&env.recipient_key, &env.domain(), &Claim { channel_id: id, cumulative_amount: eth("1") }).unwrap();
    for i in 1..=10u64 {
        let amount = U256::from(i) * eth("0.01");
        reverted(recipient.withdraw(id, amount, &forged).await, "InvalidSignature");
        reverted(recipient.close(id, U256::ZERO - U256::from(1), &forged).await, "InvalidSignature");
        recipient.withdraw(id, amount, &env.sign(id, amount)).await.unwrap();
    }
    assert_eq!(recipient.channel(id).await.unwrap().withdrawn, eth("0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_from_one_client_do_not_race_for_nonces() {
    let env = Env::new().await;
    let now = env.sender.block_timestamp().await.unwrap();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..6u64 {
        let (client, r) = (env.sender.clone(), env.recipient.address());
        set.spawn(async move { client.open_eth(r, U256::from(1000 + i), now + 3600).await.unwrap() });
    }
    let mut ids = set.join_all().await;
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    for id in ids {
        assert_eq!(env.recipient.channel(id).await.unwrap().sender, env.sender.address());
    }
}

/// A 5-byte refusing ERC-1271 "wallet": `PUSH1 0x20 PUSH1 0 RETURN` answers every call with 32
/// zero bytes, so `isValidSignature` returns 0x00000000, never the magic value.
const REFUSING_DELEGATE_CODE: [u8; 5] = [0x60, 0x20, 0x60, 0x00, 0xf3];

/// The reported attack, under anvil's own rules (Prague: real EIP-7702): the payer signs a claim,
/// then signs an authorization delegating its address to a refusing ERC-1271 delegate, and a
/// third party sends that type-4 transaction. The payee's close with the claim still pays.
#[tokio::test]
async fn eip7702_delegation_after_signing_cannot_revoke_a_claim() {
    use alloy::eips::eip7702::Authorization;
    use alloy::rpc::types::TransactionRequest;
    use alloy::signers::{local::PrivateKeySigner, SignerSync};
    use contracts::AccountCode;

    let env = Env::new().await;
    let id = env.open(eth("1"), 3600).await;
    let sig = env.sign(id, eth("0.8"));
    assert_eq!(env.recipient.account_code(env.sender.address()).await.unwrap(), AccountCode::None);

    let delegate = Address::repeat_byte(0xde);
    let p = env.third.provider();
    let _: serde_json::Value = p
        .raw_request("anvil_setCode".into(), (delegate, alloy::hex::encode_prefixed(REFUSING_DELEGATE_CODE)))
        .await
        .unwrap();
    let nonce = p.get_transaction_count(env.sender.address()).await.unwrap();
    let auth = Authorization { chain_id: U256::from(31337u64), address: delegate, nonce };
    let signer = PrivateKeySigner::from_bytes(&B256::from(env.sender_key)).unwrap();
    let signed = auth.clone().into_signed(signer.sign_hash_sync(&auth.signature_hash()).unwrap());
    let tx = TransactionRequest {
        from: Some(env.third.address()),
        to: Some(env.sender.address().into()),
        authorization_list: Some(vec![signed]),
        ..Default::default()
    };
    let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "type-4 transaction mined");
    assert_eq!(
        env.recipient.account_code(env.sender.address()).await.unwrap(),
        AccountCode::Delegated(delegate),
        "the payer's address now carries the 7702 designator"
    );

    let before = env.recipient.balance(env.recipient.address()).await.unwrap();
    let out = env.recipient.close(id, eth("0.8"), &sig).await.unwrap();
    let after = env.recipient.balance(env.recipient.address()).await.unwrap();
    assert_eq!(after, before + eth("0.8") - out.fee(), "the payee collected the signed claim");
    assert_eq!(env.sender.owed_eth(env.sender.address()).await.unwrap(), eth("0.2"));
    // A claim by another key is still refused: the delegate's ERC-1271 says no.
    let id2 = env.open(eth("1"), 3600).await;
    let forged =
        sign_claim(&env.recipient_key, &env.domain(), &Claim { channel_id: id2, cumulative_amount: eth("1") }).unwrap();
    reverted(env.recipient.close(id2, eth("1"), &forged).await, "InvalidSignature");
}
