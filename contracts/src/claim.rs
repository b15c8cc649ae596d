//! EIP-712 claims: the off-chain half of the channel protocol.
//!
//! A claim says "the sender owes the recipient `cumulative_amount` (token base units) in total on
//! channel `channel_id`". It is signed as EIP-712 typed data (<https://eips.ethereum.org/EIPS/eip-712>):
//!
//! ```text
//! digest          = keccak256("\x19\x01" || domainSeparator || hashStruct(Claim))
//! domainSeparator = hashStruct(EIP712Domain { name: "BtpNipsChannel", version: "1",
//!                                             chainId, verifyingContract })
//! hashStruct(Claim) = keccak256(abi.encode(keccak256(CLAIM_TYPE), channelId, cumulativeAmount))
//! ```
//!
//! exactly as the contract's `claimDigest(channelId, cumulativeAmount)` computes it (OpenZeppelin
//! `EIP712._hashTypedDataV4`). The domain binds a claim to one chain *and* one deployment; the
//! channel id (derived on chain from chain id, contract, sender, recipient, token and a
//! never-reused nonce) binds it to one channel.
//!
//! Signatures are 65 bytes `r || s || v` with `v ∈ {27, 28}` and low `s` (`s ≤ n/2`). Recovery
//! applies the same acceptance rules as OpenZeppelin 5 `ECDSA.tryRecover`, which the contract uses
//! for EOA senders: high-`s` signatures and any other `v` are refused, so a signature accepted here
//! is accepted on chain and vice versa.

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy::sol_types::{Eip712Domain, SolStruct};

/// EIP-712 domain `name` of the contract.
pub const DOMAIN_NAME: &str = "BtpNipsChannel";
/// EIP-712 domain `version` of the contract.
pub const DOMAIN_VERSION: &str = "1";
/// EIP-712 type string of a claim (its keccak256 is the contract's `CLAIM_TYPEHASH`).
pub const CLAIM_TYPE: &str = "Claim(bytes32 channelId,uint256 cumulativeAmount)";

/// Order of the secp256k1 group, `n`.
const SECP256K1_N: U256 =
    U256::from_be_slice(&alloy::hex!("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"));
/// `n / 2`: the largest `s` OpenZeppelin's `ECDSA` accepts (EIP-2).
const SECP256K1_HALF_N: U256 =
    U256::from_be_slice(&alloy::hex!("7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0"));

mod typed {
    alloy::sol! {
        /// The EIP-712 struct the sender signs.
        struct Claim {
            bytes32 channelId;
            uint256 cumulativeAmount;
        }
    }
}

/// The EIP-712 domain of one deployment: `{name: "BtpNipsChannel", version: "1", chainId,
/// verifyingContract}` (EIP-712 §"Definition of domainSeparator").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ChannelDomain {
    /// EIP-155 chain id the contract is deployed on (8453 Base, 84532 Base Sepolia, 31337 anvil).
    pub chain_id: u64,
    /// Address of the `UnidirectionalChannel` deployment (`verifyingContract`).
    pub contract: Address,
}

impl ChannelDomain {
    /// The domain as alloy's [`Eip712Domain`].
    pub fn eip712_domain(&self) -> Eip712Domain {
        alloy::sol_types::eip712_domain! {
            name: DOMAIN_NAME,
            version: DOMAIN_VERSION,
            chain_id: self.chain_id,
            verifying_contract: self.contract,
        }
    }

    /// The EIP-712 domain separator; equals the contract's `domainSeparator()`.
    pub fn separator(&self) -> B256 {
        self.eip712_domain().separator()
    }
}

/// A claim: the cumulative amount the sender owes the recipient on a channel.
///
/// Claims are cumulative, not incremental: each new claim replaces the previous one and must not
/// be lower. The contract pays `min(cumulative_amount, deposit) - withdrawn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Claim {
    /// Channel id, as emitted in `ChannelOpened` (see the contract's `computeChannelId`).
    pub channel_id: B256,
    /// Total owed since the channel was opened, in token base units (wei for ETH).
    pub cumulative_amount: U256,
}

impl Claim {
    /// EIP-712 `hashStruct(Claim)` (without the domain).
    pub fn struct_hash(&self) -> B256 {
        self.typed().eip712_hash_struct()
    }

    fn typed(&self) -> typed::Claim {
        typed::Claim { channelId: self.channel_id, cumulativeAmount: self.cumulative_amount }
    }
}

/// Why a key, a signature or a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// The secret key is not a valid secp256k1 scalar (zero or ≥ n).
    #[error("invalid secp256k1 secret key")]
    InvalidKey,
    /// The signature is malformed (r or s zero or ≥ n) or no public key can be recovered from it.
    #[error("invalid signature")]
    InvalidSignature,
    /// `s` is in the upper half of the curve order; refused like OpenZeppelin `ECDSA` (EIP-2 malleability).
    #[error("signature has a high s value (s > n/2)")]
    HighS,
    /// `v` is not 27 or 28.
    #[error("invalid recovery byte v = {0} (expected 27 or 28)")]
    InvalidV(u8),
    /// The signature is valid but was made by another key (or over another claim/domain).
    #[error("claim signed by {got}, expected {expected}")]
    WrongSigner {
        /// The channel's sender.
        expected: Address,
        /// The address the signature recovers to.
        got: Address,
    },
    /// Signing failed (should not happen with a valid key).
    #[error("signing failed: {0}")]
    Signing(String),
}

/// The EIP-712 digest of `claim` under `domain`; equals the contract's
/// `claimDigest(channelId, cumulativeAmount)` on that deployment.
pub fn claim_digest(domain: &ChannelDomain, claim: &Claim) -> B256 {
    claim.typed().eip712_signing_hash(&domain.eip712_domain())
}

/// A secp256k1 key ready to sign claims (parses the key and derives its address once).
///
/// [`sign_claim`] is the one-shot form; keep a `ClaimSigner` when signing many claims.
#[derive(Clone)]
pub struct ClaimSigner {
    signer: PrivateKeySigner,
}

impl std::fmt::Debug for ClaimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimSigner").field("address", &self.address()).finish_non_exhaustive()
    }
}

impl ClaimSigner {
    /// Parses a 32-byte big-endian secp256k1 secret key (the node's key).
    pub fn new(secret_key: &[u8; 32]) -> Result<Self, ClaimError> {
        let signer = PrivateKeySigner::from_bytes(&B256::from(*secret_key)).map_err(|_| ClaimError::InvalidKey)?;
        Ok(Self { signer })
    }

    /// The Ethereum address of the key (last 20 bytes of keccak256 of the uncompressed public key).
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// Signs `claim` under `domain`: 65 bytes `r || s || v`, `v ∈ {27, 28}`, low `s`.
    pub fn sign(&self, domain: &ChannelDomain, claim: &Claim) -> Result<[u8; 65], ClaimError> {
        let digest = claim_digest(domain, claim);
        let sig = self.signer.sign_hash_sync(&digest).map_err(|e| ClaimError::Signing(e.to_string()))?;
        // k256 already produces low-s signatures; normalising is a no-op kept as a guarantee.
        Ok(sig.normalized_s().as_bytes())
    }

    /// The underlying alloy signer (for sending transactions).
    pub(crate) fn inner(&self) -> &PrivateKeySigner {
        &self.signer
    }
}

/// Signs `claim` under `domain` with `secret_key` (32-byte big-endian secp256k1 scalar).
///
/// Returns `r || s || v` with `v ∈ {27, 28}` and low `s`, the form the contract's `withdraw` and
/// `close` accept as `signature`.
pub fn sign_claim(secret_key: &[u8; 32], domain: &ChannelDomain, claim: &Claim) -> Result<[u8; 65], ClaimError> {
    ClaimSigner::new(secret_key)?.sign(domain, claim)
}

/// Recovers the address that signed `claim` under `domain`.
///
/// Acceptance rules match OpenZeppelin 5 `ECDSA.tryRecover` + the `ecrecover` precompile:
/// `s > n/2` → [`ClaimError::HighS`]; `v ∉ {27, 28}` → [`ClaimError::InvalidV`]; `r` or `s` zero
/// or ≥ n, or no recoverable key → [`ClaimError::InvalidSignature`]. A successful recovery over the
/// wrong claim or domain yields some *other* address; use [`verify_claim`] to compare.
pub fn recover_signer(domain: &ChannelDomain, claim: &Claim, signature: &[u8; 65]) -> Result<Address, ClaimError> {
    recover_prehash(&claim_digest(domain, claim), signature)
}

fn recover_prehash(digest: &B256, signature: &[u8; 65]) -> Result<Address, ClaimError> {
    let r = U256::from_be_slice(&signature[..32]);
    let s = U256::from_be_slice(&signature[32..64]);
    // Same order as OZ: the s check comes before ecrecover (which is what rejects a bad v).
    if s > SECP256K1_HALF_N {
        return Err(ClaimError::HighS);
    }
    let y_parity = match signature[64] {
        27 => false,
        28 => true,
        v => return Err(ClaimError::InvalidV(v)),
    };
    if r.is_zero() || s.is_zero() || r >= SECP256K1_N {
        return Err(ClaimError::InvalidSignature);
    }
    let r_bytes: &[u8; 32] = signature[..32].try_into().expect("32 bytes");
    let s_bytes: &[u8; 32] = signature[32..64].try_into().expect("32 bytes");
    ecrecover(digest, r_bytes, s_bytes, y_parity).ok_or(ClaimError::InvalidSignature)
}

/// Public-key recovery as the EVM's `ecrecover` precompile does it:
/// `Q = r⁻¹ · (s·R − z·G)` where `R` is the curve point with x = `r` and the given y parity, then
/// `address = keccak256(Q)[12..]`. `r` and `s` must already be in `[1, n)`.
///
/// Written out with k256 arithmetic instead of `VerifyingKey::recover_from_prehash`, which also
/// re-verifies the signature against the recovered key — a second scalar multiplication that
/// cannot fail here (`Q` satisfies the verification equation by construction, and `R.x = r`
/// because `r < n`) and roughly doubles the cost. The differential test
/// `recovery_matches_alloy` checks this against alloy/k256.
fn ecrecover(digest: &B256, r: &[u8; 32], s: &[u8; 32], y_odd: bool) -> Option<Address> {
    use alloy::signers::k256::elliptic_curve::group::Group;
    use alloy::signers::k256::elliptic_curve::ops::{LinearCombination, Reduce};
    use alloy::signers::k256::elliptic_curve::point::DecompressPoint;
    use alloy::signers::k256::elliptic_curve::sec1::ToEncodedPoint;
    use alloy::signers::k256::elliptic_curve::subtle::Choice;
    use alloy::signers::k256::elliptic_curve::PrimeField;
    use alloy::signers::k256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar, U256 as Uint};

    let r_scalar = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(*r)))?;
    let s_scalar = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(*s)))?;
    let z = <Scalar as Reduce<Uint>>::reduce_bytes(&FieldBytes::from(digest.0));
    let big_r = Option::<AffinePoint>::from(AffinePoint::decompress(&FieldBytes::from(*r), Choice::from(y_odd as u8)))?;
    let r_inv = Option::<Scalar>::from(r_scalar.invert())?;
    let u1 = -(r_inv * z);
    let u2 = r_inv * s_scalar;
    let q = ProjectivePoint::lincomb(&ProjectivePoint::GENERATOR, &u1, &ProjectivePoint::from(big_r), &u2);
    if bool::from(q.is_identity()) {
        return None;
    }
    let encoded = q.to_affine().to_encoded_point(false);
    Some(Address::from_raw_public_key(&encoded.as_bytes()[1..]))
}

/// Checks that `signature` is `expected_sender`'s valid signature over `claim` under `domain`.
///
/// `Ok(())` exactly when the contract would accept the signature from an EOA sender in
/// `withdraw`/`close`. It does **not** check channel state (deposit, expiry, monotonicity) — the
/// caller compares `claim.cumulative_amount` with the previous claim and the channel's deposit.
pub fn verify_claim(
    domain: &ChannelDomain,
    claim: &Claim,
    signature: &[u8; 65],
    expected_sender: Address,
) -> Result<(), ClaimError> {
    let got = recover_signer(domain, claim, signature)?;
    if got != expected_sender {
        return Err(ClaimError::WrongSigner { expected: expected_sender, got });
    }
    Ok(())
}

/// The Ethereum address of a secp256k1 secret key (e.g. the node's Nostr/ILP key used as its
/// settlement account).
pub fn evm_address(secret_key: &[u8; 32]) -> Result<Address, ClaimError> {
    Ok(ClaimSigner::new(secret_key)?.address())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{address, b256, keccak256};

    const ANVIL_KEY0: [u8; 32] = alloy::hex!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
    const ANVIL_KEY1: [u8; 32] = alloy::hex!("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");

    fn domain() -> ChannelDomain {
        ChannelDomain { chain_id: 8453, contract: address!("5FbDB2315678afecb367f032d93F642f64180aa3") }
    }

    fn claim() -> Claim {
        Claim {
            channel_id: b256!("1111111111111111111111111111111111111111111111111111111111111111"),
            cumulative_amount: U256::from(123_456_789u64),
        }
    }

    #[test]
    fn evm_address_of_anvil_dev_keys() {
        assert_eq!(evm_address(&ANVIL_KEY0).unwrap(), address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
        assert_eq!(evm_address(&ANVIL_KEY1).unwrap(), address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"));
    }

    #[test]
    fn invalid_keys_are_refused() {
        assert_eq!(evm_address(&[0u8; 32]), Err(ClaimError::InvalidKey));
        assert_eq!(evm_address(&[0xff; 32]), Err(ClaimError::InvalidKey));
        let n: [u8; 32] = SECP256K1_N.to_be_bytes();
        assert_eq!(sign_claim(&n, &domain(), &claim()), Err(ClaimError::InvalidKey));
    }

    #[test]
    fn sign_recover_round_trip() {
        let sig = sign_claim(&ANVIL_KEY0, &domain(), &claim()).unwrap();
        assert!(sig[64] == 27 || sig[64] == 28);
        assert!(U256::from_be_slice(&sig[32..64]) <= SECP256K1_HALF_N);
        let sender = evm_address(&ANVIL_KEY0).unwrap();
        assert_eq!(recover_signer(&domain(), &claim(), &sig).unwrap(), sender);
        verify_claim(&domain(), &claim(), &sig, sender).unwrap();
        // Deterministic (RFC 6979).
        assert_eq!(sig, sign_claim(&ANVIL_KEY0, &domain(), &claim()).unwrap());
    }

    #[test]
    fn many_claims_round_trip_with_both_parities() {
        let signer = ClaimSigner::new(&ANVIL_KEY1).unwrap();
        let mut parities = [false; 2];
        for i in 0..64u64 {
            let c = Claim { channel_id: keccak256(i.to_be_bytes()), cumulative_amount: U256::from(i) };
            let sig = signer.sign(&domain(), &c).unwrap();
            parities[(sig[64] - 27) as usize] = true;
            verify_claim(&domain(), &c, &sig, signer.address()).unwrap();
        }
        assert_eq!(parities, [true, true]);
    }

    #[test]
    fn high_s_is_rejected() {
        let sig = sign_claim(&ANVIL_KEY0, &domain(), &claim()).unwrap();
        // (r, n - s, v ^ 1) is the "other" valid ECDSA signature of the same key (malleability).
        let s = U256::from_be_slice(&sig[32..64]);
        let mut flipped = sig;
        flipped[32..64].copy_from_slice(&(SECP256K1_N - s).to_be_bytes::<32>());
        flipped[64] = if sig[64] == 27 { 28 } else { 27 };
        assert_eq!(recover_signer(&domain(), &claim(), &flipped), Err(ClaimError::HighS));
        let sender = evm_address(&ANVIL_KEY0).unwrap();
        assert_eq!(verify_claim(&domain(), &claim(), &flipped, sender), Err(ClaimError::HighS));
        // It is a genuine signature of the same key: alloy (which normalises s before recovering)
        // recovers the sender from it. Only the low-s rule (ours and OZ's) refuses it.
        let r = U256::from_be_slice(&flipped[..32]);
        let malleable = alloy::primitives::Signature::new(r, SECP256K1_N - s, flipped[64] == 28);
        assert_eq!(malleable.recover_address_from_prehash(&claim_digest(&domain(), &claim())).unwrap(), sender);
    }

    #[test]
    fn bad_v_and_malformed_signatures() {
        let sig = sign_claim(&ANVIL_KEY0, &domain(), &claim()).unwrap();
        for v in [0u8, 1, 26, 29, 35, 255] {
            let mut bad = sig;
            bad[64] = v;
            assert_eq!(recover_signer(&domain(), &claim(), &bad), Err(ClaimError::InvalidV(v)));
        }
        let mut zero_r = sig;
        zero_r[..32].fill(0);
        assert_eq!(recover_signer(&domain(), &claim(), &zero_r), Err(ClaimError::InvalidSignature));
        let mut zero_s = sig;
        zero_s[32..64].fill(0);
        assert_eq!(recover_signer(&domain(), &claim(), &zero_s), Err(ClaimError::InvalidSignature));
        let mut big_r = sig;
        big_r[..32].copy_from_slice(&SECP256K1_N.to_be_bytes::<32>());
        assert_eq!(recover_signer(&domain(), &claim(), &big_r), Err(ClaimError::InvalidSignature));
    }

    #[test]
    fn tampering_changes_the_signer() {
        let sig = sign_claim(&ANVIL_KEY0, &domain(), &claim()).unwrap();
        let sender = evm_address(&ANVIL_KEY0).unwrap();
        let more = Claim { cumulative_amount: claim().cumulative_amount + U256::from(1), ..claim() };
        assert!(matches!(
            verify_claim(&domain(), &more, &sig, sender),
            Err(ClaimError::WrongSigner { expected, got }) if expected == sender && got != sender
        ));
        let other_chain = ChannelDomain { chain_id: 84532, ..domain() };
        assert!(matches!(verify_claim(&other_chain, &claim(), &sig, sender), Err(ClaimError::WrongSigner { .. })));
        let other_contract = ChannelDomain { contract: Address::repeat_byte(0x42), ..domain() };
        assert!(matches!(verify_claim(&other_contract, &claim(), &sig, sender), Err(ClaimError::WrongSigner { .. })));
        let other_key = sign_claim(&ANVIL_KEY1, &domain(), &claim()).unwrap();
        assert_eq!(
            verify_claim(&domain(), &claim(), &other_key, sender),
            Err(ClaimError::WrongSigner { expected: sender, got: evm_address(&ANVIL_KEY1).unwrap() })
        );
    }

    /// Our `ecrecover` against alloy's (k256 `recover_from_prehash`, which re-verifies) on many
    /// genuine signatures (both parities) and on garbage `(r, s)` pairs, including failures.
    #[test]
    fn recovery_matches_alloy() {
        let mut seed = keccak256(b"btpnips recovery differential");
        let mut next = || {
            seed = keccak256(seed);
            seed
        };
        let (mut ok, mut failed) = (0, 0);
        for i in 0..300 {
            let digest = next();
            let sig: [u8; 65] = if i % 3 == 0 {
                // Random r, s (s folded to the low half) and v.
                let mut sig = [0u8; 65];
                sig[..32].copy_from_slice(next().as_slice());
                let s = U256::from_be_bytes(next().0) % SECP256K1_HALF_N + U256::from(1);
                sig[32..64].copy_from_slice(&s.to_be_bytes::<32>());
                sig[64] = 27 + (i % 2) as u8;
                sig
            } else {
                let key = ClaimSigner::new(&next().0).unwrap();
                key.signer.sign_hash_sync(&digest).unwrap().normalized_s().as_bytes()
            };
            let r = U256::from_be_slice(&sig[..32]);
            let s = U256::from_be_slice(&sig[32..64]);
            let theirs = if r >= SECP256K1_N {
                None
            } else {
                alloy::primitives::Signature::new(r, s, sig[64] == 28).recover_address_from_prehash(&digest).ok()
            };
            let ours = recover_prehash(&digest, &sig).ok();
            assert_eq!(ours, theirs, "case {i}");
            if ours.is_some() {
                ok += 1
            } else {
                failed += 1
            }
        }
        assert!(ok >= 200 && failed >= 20, "ok {ok}, failed {failed}");
    }

    /// The digest written out by hand from the EIP-712 formulas (no alloy sol-types), so a change
    /// in the library's encoding would be noticed even without anvil.
    #[test]
    fn digest_matches_hand_written_eip712() {
        let d = domain();
        let c = claim();
        let domain_type =
            keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
        let mut enc = Vec::new();
        enc.extend_from_slice(domain_type.as_slice());
        enc.extend_from_slice(keccak256(DOMAIN_NAME).as_slice());
        enc.extend_from_slice(keccak256(DOMAIN_VERSION).as_slice());
        enc.extend_from_slice(&U256::from(d.chain_id).to_be_bytes::<32>());
        enc.extend_from_slice(B256::left_padding_from(d.contract.as_slice()).as_slice());
        let separator = keccak256(&enc);
        assert_eq!(d.separator(), separator);

        let mut s = Vec::new();
        s.extend_from_slice(keccak256(CLAIM_TYPE).as_slice());
        s.extend_from_slice(c.channel_id.as_slice());
        s.extend_from_slice(&c.cumulative_amount.to_be_bytes::<32>());
        let struct_hash = keccak256(&s);
        assert_eq!(c.struct_hash(), struct_hash);

        let mut m = vec![0x19, 0x01];
        m.extend_from_slice(separator.as_slice());
        m.extend_from_slice(struct_hash.as_slice());
        assert_eq!(claim_digest(&d, &c), keccak256(&m));
    }
}
