//! Latency of `verify_claim` (EIP-712 digest + secp256k1 recovery + low-s/v checks), the check a
//! node runs on every incoming payment-channel claim.
//!
//! `cargo bench -p btpnips-contracts --bench claim_verify` — prints p50/p99/max per verify and the
//! sustained verifies/s over 20 000 iterations (1 024 distinct pre-signed claims, cycled).

use std::hint::black_box;
use std::time::{Duration, Instant};

use contracts::{claim_digest, sign_claim, verify_claim, Address, ChannelDomain, Claim, ClaimSigner, B256, U256};

const ITERATIONS: usize = 20_000;
const WARMUP: usize = 1_000;
const DISTINCT: usize = 1_024;
const REFERENCE: usize = 4_000;

fn main() {
    let key: [u8; 32] = alloy::hex!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
    let signer = ClaimSigner::new(&key).unwrap();
    let sender = signer.address();
    let domain = ChannelDomain { chain_id: 8453, contract: Address::repeat_byte(0x5f) };
    let channel_id = B256::repeat_byte(0x11);

    let t = Instant::now();
    let claims: Vec<(Claim, [u8; 65])> = (0..DISTINCT)
        .map(|i| {
            let claim = Claim { channel_id, cumulative_amount: U256::from(1_000_000_000u64 * (i as u64 + 1)) };
            (claim, signer.sign(&domain, &claim).unwrap())
        })
        .collect();
    let sign_each = t.elapsed() / DISTINCT as u32;
    // One-shot signing (parses the key each time), for reference.
    let t = Instant::now();
    for (claim, _) in claims.iter().take(256) {
        black_box(sign_claim(&key, &domain, claim).unwrap());
    }
    let sign_oneshot = t.elapsed() / 256;

    for i in 0..WARMUP {
        let (claim, sig) = &claims[i % DISTINCT];
        verify_claim(&domain, claim, sig, sender).unwrap();
    }

    let mut samples = Vec::with_capacity(ITERATIONS);
    let total = Instant::now();
    for i in 0..ITERATIONS {
        let (claim, sig) = &claims[i % DISTINCT];
        let t = Instant::now();
        let r = verify_claim(black_box(&domain), black_box(claim), black_box(sig), black_box(sender));
        samples.push(t.elapsed());
        assert!(r.is_ok());
    }
    let total = total.elapsed();

    // Reference, interleaved so machine load hits both alike: alloy's recovery (k256
    // `recover_from_prehash`, which re-verifies the signature after recovering the key).
    let mut ours = Duration::ZERO;
    let mut alloy_ref = Duration::ZERO;
    for i in 0..REFERENCE {
        let (claim, sig) = &claims[i % DISTINCT];
        let t = Instant::now();
        black_box(verify_claim(black_box(&domain), claim, sig, sender)).unwrap();
        ours += t.elapsed();
        let t = Instant::now();
        let digest = claim_digest(black_box(&domain), claim);
        let s = alloy::primitives::Signature::from_raw_array(sig).unwrap();
        assert_eq!(black_box(s.recover_address_from_prehash(&digest)).unwrap(), sender);
        alloy_ref += t.elapsed();
    }

    samples.sort_unstable();
    let pct = |p: f64| samples[((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1];
    let mean = samples.iter().sum::<Duration>() / ITERATIONS as u32;
    println!("verify_claim x {ITERATIONS} (EIP-712 digest + ecrecover + checks, k256 backend)");
    println!(
        "  p50 {:>8.1} µs   p99 {:>8.1} µs   max {:>8.1} µs   mean {:>8.1} µs",
        us(pct(0.50)),
        us(pct(0.99)),
        us(*samples.last().unwrap()),
        us(mean)
    );
    println!("  {:.0} verifies/s (wall {:.3} s)", ITERATIONS as f64 / total.as_secs_f64(), total.as_secs_f64());
    println!("sign (ClaimSigner) {:.1} µs/claim; sign_claim one-shot {:.1} µs/claim", us(sign_each), us(sign_oneshot));
    println!(
        "interleaved x {REFERENCE}: verify_claim mean {:.1} µs vs alloy recover_address_from_prehash {:.1} µs ({:.2}x)",
        us(ours / REFERENCE as u32),
        us(alloy_ref / REFERENCE as u32),
        alloy_ref.as_secs_f64() / ours.as_secs_f64()
    );
    if pct(0.99) >= Duration::from_millis(1) {
        println!("WARNING: p99 >= 1 ms (target: well under 1 ms)");
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
