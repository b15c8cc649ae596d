//! The BTP auth token that binds a peer link to a node key (docs/btp-nips.md §1).
//!
//! BTP 2.0 auth (RFC 23 §"Authentication") carries `auth_username` and `auth_token`. A
//! btpnips node dialing another sends `auth_username = hex(client x-only pubkey)` and
//! `auth_token = "<unix seconds>.<hex(BIP-340 signature)>"`, the signature being over
//! `SHA-256("btp-nips/1 auth" || server_pubkey || client_pubkey || be_u64(unix seconds))`.
//! The server accepts it when the signature verifies and the time is within
//! [`MAX_SKEW_SECS`] of its own clock; the link's account is then the client's pubkey.
use secp256k1::{schnorr, Keypair, XOnlyPublicKey};
use sha2::{Digest, Sha256};

use super::BtpNipsError;

/// How far (seconds) a token's timestamp may be from the verifier's clock.
pub const MAX_SKEW_SECS: u64 = 120;

fn digest(server: &[u8; 32], client: &[u8; 32], unix_secs: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"btp-nips/1 auth");
    h.update(server);
    h.update(client);
    h.update(unix_secs.to_be_bytes());
    h.finalize().into()
}

/// Make the `auth_token` for dialing `server_pubkey` at time `now_secs` (unix seconds).
/// `aux_rand` is BIP-340 auxiliary randomness supplied by the caller.
///
/// Errors: [`BtpNipsError::InvalidKey`] for an invalid secret key.
pub fn make_token(
    own_secret: &[u8; 32],
    server_pubkey: &[u8; 32],
    now_secs: u64,
    aux_rand: &[u8; 32],
) -> Result<String, BtpNipsError> {
    let kp = Keypair::from_secret_bytes(*own_secret).map_err(|_| BtpNipsError::InvalidKey("secret key"))?;
    let client = kp.x_only_public_key().0.to_byte_array();
    let sig = schnorr::sign_with_aux_rand(&digest(server_pubkey, &client, now_secs), &kp, aux_rand);
    Ok(format!("{now_secs}.{}", hex::encode(sig.to_byte_array())))
}

/// Check a token presented by `client_pubkey` to us (`own_pubkey`) at `now_secs`.
///
/// Errors: [`BtpNipsError::Auth`] naming the failed check (format, skew, signature).
pub fn verify_token(
    token: &str,
    own_pubkey: &[u8; 32],
    client_pubkey: &[u8; 32],
    now_secs: u64,
) -> Result<(), BtpNipsError> {
    let (ts, sig_hex) = token.split_once('.').ok_or(BtpNipsError::Auth("token is not <secs>.<sig>"))?;
    let ts: u64 = ts.parse().map_err(|_| BtpNipsError::Auth("token time is not a number"))?;
    if ts.abs_diff(now_secs) > MAX_SKEW_SECS {
        return Err(BtpNipsError::Auth("token time too far from now"));
    }
    let mut sig = [0u8; 64];
    hex::decode_to_slice(sig_hex, &mut sig).map_err(|_| BtpNipsError::Auth("signature is not 128 hex characters"))?;
    let pk = XOnlyPublicKey::from_byte_array(*client_pubkey).map_err(|_| BtpNipsError::Auth("client key invalid"))?;
    schnorr::verify(&schnorr::Signature::from_byte_array(sig), &digest(own_pubkey, client_pubkey, ts), &pk)
        .map_err(|_| BtpNipsError::Auth("bad signature"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(sk: &[u8; 32]) -> [u8; 32] {
        Keypair::from_secret_bytes(*sk).unwrap().x_only_public_key().0.to_byte_array()
    }

    #[test]
    fn token_verifies_only_for_the_right_pair_and_time() {
        let (client, server, other) = ([5u8; 32], [6u8; 32], [7u8; 32]);
        let t = make_token(&client, &pk(&server), 1_700_000_000, &[0u8; 32]).unwrap();
        verify_token(&t, &pk(&server), &pk(&client), 1_700_000_050).unwrap();
        assert!(verify_token(&t, &pk(&other), &pk(&client), 1_700_000_000).is_err());
        assert!(verify_token(&t, &pk(&server), &pk(&other), 1_700_000_000).is_err());
        assert_eq!(
            verify_token(&t, &pk(&server), &pk(&client), 1_700_001_000),
            Err(BtpNipsError::Auth("token time too far from now"))
        );
        let forged = t.replacen("1700000000", "1700000001", 1);
        assert_eq!(
            verify_token(&forged, &pk(&server), &pk(&client), 1_700_000_000),
            Err(BtpNipsError::Auth("bad signature"))
        );
        assert!(verify_token("garbage", &pk(&server), &pk(&client), 0).is_err());
    }
}
