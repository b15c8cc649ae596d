//! The node key: one secp256k1 key that is the node's Nostr identity (BIP-340 x-only pubkey),
//! its libp2p PeerId and its EVM address, and authenticates its peer links. Generated on first
//! start and kept in `<data_dir>/node.key` (file mode 0600).
//!
//! At rest (design.md "Identity") the file holds either
//! - the secret key **encrypted** ([`EncryptedKey`], JSON): argon2id (RFC 9106) derives a
//!   32-byte key from the passphrase and a random 16-byte salt; ChaCha20-Poly1305 (RFC 8439)
//!   seals the secret with a random 12-byte nonce and the associated data
//!   `"btpnips node key v1" ‖ pubkey`; the pubkey stays readable without the passphrase; or
//! - the secret key as 64 hex characters, **unencrypted** (imported keys, or a node started
//!   without a passphrase; a warning says how to encrypt it: `btpnips key encrypt`).
//!
//! The passphrase comes from `BTPNIPS_PASSPHRASE`, else the file named by
//! `key_passphrase_file`, else (decrypting only) a prompt when stdin is a terminal.
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use secp256k1::Keypair;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// File name of the key inside the data dir.
pub const KEY_FILE: &str = "node.key";
/// Environment variable holding the key's passphrase.
pub const PASSPHRASE_ENV: &str = "BTPNIPS_PASSPHRASE";
/// Associated-data prefix binding the ciphertext to its format and pubkey.
const AAD_PREFIX: &[u8] = b"btpnips node key v1";

/// The node's key pair.
#[derive(Clone)]
pub struct NodeKey {
    /// The 32-byte secret key.
    pub secret: [u8; 32],
    /// The x-only public key (Nostr pubkey).
    pub pubkey: [u8; 32],
    /// `pubkey` as 64 lowercase hex.
    pub pubkey_hex: String,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKey").field("pubkey", &self.pubkey_hex).finish_non_exhaustive()
    }
}

impl Drop for NodeKey {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

/// argon2id cost parameters (RFC 9106 §4 second recommended option: 64 MiB, 3 passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory, KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        Self { m_cost_kib: 64 * 1024, t_cost: 3, p_cost: 1 }
    }
}

/// The encrypted key file (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncryptedKey {
    /// Format version, 1.
    pub version: u8,
    /// The key's x-only pubkey, 64 hex (readable without the passphrase; authenticated).
    pub pubkey: String,
    /// Always `"argon2id"`.
    pub kdf: String,
    /// argon2id costs.
    pub kdf_params: KdfParams,
    /// argon2id salt, 16 bytes hex.
    pub salt: String,
    /// Always `"chacha20poly1305"`.
    pub cipher: String,
    /// Nonce, 12 bytes hex.
    pub nonce: String,
    /// Sealed secret key (32 bytes + 16-byte tag), hex.
    pub ciphertext: String,
}

fn cipher_for(passphrase: &str, salt: &[u8], params: KdfParams) -> anyhow::Result<ChaCha20Poly1305> {
    let params = argon2::Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(32))
        .map_err(|e| anyhow!("argon2 parameters: {e}"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|e| anyhow!("argon2: {e}"))?;
    Ok(ChaCha20Poly1305::new(key.as_ref().into()))
}

fn aad(pubkey: &[u8; 32]) -> Vec<u8> {
    [AAD_PREFIX, pubkey.as_slice()].concat()
}

impl EncryptedKey {
    /// Seal `key` under `passphrase` with fresh salt and nonce.
    ///
    /// Errors: only if the KDF parameters are invalid.
    pub fn seal(key: &NodeKey, passphrase: &str, params: KdfParams) -> anyhow::Result<Self> {
        let salt: [u8; 16] = rand::random();
        let nonce: [u8; 12] = rand::random();
        let cipher = cipher_for(passphrase, &salt, params)?;
        let sealed = cipher
            .encrypt((&nonce).into(), Payload { msg: &key.secret, aad: &aad(&key.pubkey) })
            .map_err(|_| anyhow!("sealing the key failed"))?;
        Ok(Self {
            version: 1,
            pubkey: key.pubkey_hex.clone(),
            kdf: "argon2id".into(),
            kdf_params: params,
            salt: hex::encode(salt),
            cipher: "chacha20poly1305".into(),
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(sealed),
        })
    }

    /// Open the sealed key with `passphrase`.
    ///
    /// Errors: an unknown version/KDF/cipher, malformed fields, a wrong passphrase or a file
    /// altered since sealing (both fail the Poly1305 tag), or a secret that does not match
    /// the stored pubkey.
    pub fn open(&self, passphrase: &str) -> anyhow::Result<NodeKey> {
        if self.version != 1 || self.kdf != "argon2id" || self.cipher != "chacha20poly1305" {
            bail!("unsupported key file (version {}, {}, {})", self.version, self.kdf, self.cipher);
        }
        let pubkey: [u8; 32] = decode_fixed(&self.pubkey, "pubkey")?;
        let salt: [u8; 16] = decode_fixed(&self.salt, "salt")?;
        let nonce: [u8; 12] = decode_fixed(&self.nonce, "nonce")?;
        let sealed = hex::decode(&self.ciphertext).context("ciphertext is not hex")?;
        let cipher = cipher_for(passphrase, &salt, self.kdf_params)?;
        let plain = Zeroizing::new(
            cipher
                .decrypt((&nonce).into(), Payload { msg: &sealed, aad: &aad(&pubkey) })
                .map_err(|_| anyhow!("wrong passphrase (or the key file was altered)"))?,
        );
        let secret: [u8; 32] = plain.as_slice().try_into().map_err(|_| anyhow!("sealed secret is not 32 bytes"))?;
        let key = NodeKey::from_secret(secret)?;
        if key.pubkey != pubkey {
            bail!("the sealed secret does not belong to pubkey {}", self.pubkey);
        }
        Ok(key)
    }
}

fn decode_fixed<const N: usize>(text: &str, what: &str) -> anyhow::Result<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|e| anyhow!("{what}: not {N} bytes of hex: {e}"))?;
    Ok(out)
}

/// Where the passphrase comes from: `BTPNIPS_PASSPHRASE` (if not empty), else the contents of
/// `passphrase_file` (trailing newline removed). `None` if neither is set.
///
/// Errors: the file cannot be read.
pub fn configured_passphrase(passphrase_file: Option<&Path>) -> anyhow::Result<Option<Zeroizing<String>>> {
    match std::env::var(PASSPHRASE_ENV) {
        Ok(p) if !p.is_empty() => return Ok(Some(Zeroizing::new(p))),
        _ => {}
    }
    match passphrase_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
            Ok(Some(Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_owned())))
        }
        None => Ok(None),
    }
}

/// What a key file holds.
pub enum KeyFile {
    /// 64 hex characters: the secret key in the clear.
    Plain(NodeKey),
    /// Sealed under a passphrase.
    Encrypted(EncryptedKey),
}

impl KeyFile {
    /// Read `<dir>/node.key`; `Ok(None)` if it does not exist.
    ///
    /// Errors: unreadable, or neither 64 hex nor the encrypted JSON.
    pub fn read(dir: &Path) -> anyhow::Result<Option<KeyFile>> {
        let path = dir.join(KEY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => bail!("{}: {e}", path.display()),
        };
        let text = Zeroizing::new(text);
        let trimmed = text.trim();
        if trimmed.starts_with('{') {
            let sealed = serde_json::from_str(trimmed).with_context(|| format!("{}: bad JSON", path.display()))?;
            return Ok(Some(KeyFile::Encrypted(sealed)));
        }
        let secret: [u8; 32] = decode_fixed(trimmed, &path.display().to_string())?;
        Ok(Some(KeyFile::Plain(NodeKey::from_secret(secret)?)))
    }

    /// The pubkey (hex), known without the passphrase.
    pub fn pubkey_hex(&self) -> &str {
        match self {
            KeyFile::Plain(k) => &k.pubkey_hex,
            KeyFile::Encrypted(e) => &e.pubkey,
        }
    }
}

impl NodeKey {
    /// Key pair from a secret key. Errors: the bytes are not a valid secp256k1 secret key.
    pub fn from_secret(secret: [u8; 32]) -> anyhow::Result<Self> {
        let kp = Keypair::from_secret_bytes(secret).map_err(|e| anyhow!("invalid secret key: {e}"))?;
        let pubkey = kp.x_only_public_key().0.to_byte_array();
        Ok(Self { secret, pubkey, pubkey_hex: hex::encode(pubkey) })
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        loop {
            if let Ok(k) = Self::from_secret(rand::random()) {
                return k;
            }
        }
    }

    /// Read `<dir>/node.key` (decrypting it with `passphrase`, or with a terminal prompt when
    /// none is given and stdin is a terminal), or generate a new key if the file is missing:
    /// sealed under `passphrase` if one is given, else unencrypted with a warning.
    ///
    /// Errors: unreadable or malformed file; an encrypted file and no passphrase; a wrong
    /// passphrase.
    pub fn load_or_generate(dir: &Path, passphrase: Option<&str>) -> anyhow::Result<Self> {
        let path = dir.join(KEY_FILE);
        match KeyFile::read(dir)? {
            Some(KeyFile::Plain(key)) => {
                warn_unencrypted(&path);
                Ok(key)
            }
            Some(KeyFile::Encrypted(sealed)) => {
                let prompted;
                let passphrase = match passphrase {
                    Some(p) => p,
                    None => {
                        prompted = prompt(&format!("Passphrase for {}: ", path.display()))?;
                        prompted.as_str()
                    }
                };
                sealed.open(passphrase).with_context(|| format!("{}", path.display()))
            }
            None => {
                let key = Self::generate();
                match passphrase {
                    Some(p) => {
                        let sealed = EncryptedKey::seal(&key, p, KdfParams::default())?;
                        write_private(&path, &serde_json::to_string_pretty(&sealed)?)?;
                        tracing::info!(pubkey = %key.pubkey_hex, path = %path.display(), "generated node key (encrypted)");
                    }
                    None => {
                        write_private(&path, &hex::encode(key.secret))?;
                        tracing::info!(pubkey = %key.pubkey_hex, path = %path.display(), "generated node key");
                        warn_unencrypted(&path);
                    }
                }
                Ok(key)
            }
        }
    }
}

fn warn_unencrypted(path: &Path) {
    tracing::warn!(
        path = %path.display(),
        "the node key is stored unencrypted (file mode 0600 only); encrypt it with `btpnips key encrypt` \
         and start the node with {PASSPHRASE_ENV} or key_passphrase_file"
    );
}

/// Ask for a passphrase on the terminal. Errors when stdin is not a terminal.
pub fn prompt(question: &str) -> anyhow::Result<Zeroizing<String>> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        bail!("the node key is encrypted: set {PASSPHRASE_ENV} or key_passphrase_file (no terminal to ask on)");
    }
    Ok(Zeroizing::new(rpassword::prompt_password(question)?))
}

/// Encrypt `<dir>/node.key` in place under `passphrase` (atomically: a sealed copy is written
/// next to it, then renamed over it). Returns the pubkey.
///
/// Errors: no key file, already encrypted, or the file cannot be written.
pub fn encrypt_in_place(dir: &Path, passphrase: &str, params: KdfParams) -> anyhow::Result<String> {
    let key = match KeyFile::read(dir)? {
        None => bail!("no {} in {}", KEY_FILE, dir.display()),
        Some(KeyFile::Encrypted(_)) => bail!("{} is already encrypted", KEY_FILE),
        Some(KeyFile::Plain(key)) => key,
    };
    let sealed = EncryptedKey::seal(&key, passphrase, params)?;
    // Check before replacing: the sealed copy must open to the same key.
    if sealed.open(passphrase)?.pubkey != key.pubkey {
        bail!("sealed key does not open to the same key");
    }
    let tmp = dir.join(format!("{KEY_FILE}.new"));
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, &serde_json::to_string_pretty(&sealed)?)?;
    std::fs::rename(&tmp, dir.join(KEY_FILE))?;
    Ok(key.pubkey_hex.clone())
}

/// Write a file readable only by its owner.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small costs: these tests check the format, not the KDF's strength.
    const FAST: KdfParams = KdfParams { m_cost_kib: 256, t_cost: 1, p_cost: 1 };

    #[test]
    fn seal_open_and_every_failure() {
        let key = NodeKey::from_secret([0x11; 32]).unwrap();
        let sealed = EncryptedKey::seal(&key, "correct horse", FAST).unwrap();
        assert_eq!(sealed.pubkey, key.pubkey_hex);
        assert!(!sealed.ciphertext.contains(&hex::encode(key.secret)));
        assert_eq!(sealed.open("correct horse").unwrap().secret, key.secret);

        let wrong = sealed.open("battery staple").unwrap_err().to_string();
        assert!(wrong.contains("wrong passphrase"), "{wrong}");
        // Another pubkey in the clear fails the associated data, not silently.
        let mut swapped = sealed.clone();
        swapped.pubkey = NodeKey::from_secret([0x22; 32]).unwrap().pubkey_hex.clone();
        assert!(swapped.open("correct horse").is_err());
        let mut flipped = sealed.clone();
        flipped.ciphertext.replace_range(0..2, if &flipped.ciphertext[0..2] == "00" { "01" } else { "00" });
        assert!(flipped.open("correct horse").is_err());
        let mut other_version = sealed;
        other_version.version = 2;
        assert!(other_version.open("correct horse").unwrap_err().to_string().contains("unsupported"));
    }

    #[test]
    fn generate_encrypted_then_load_and_encrypt_a_plain_file_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let key = NodeKey::load_or_generate(dir.path(), Some("pw")).unwrap();
        let text = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
        assert!(text.contains("argon2id") && !text.contains(&hex::encode(key.secret)));
        assert_eq!(NodeKey::load_or_generate(dir.path(), Some("pw")).unwrap().pubkey, key.pubkey);
        assert!(NodeKey::load_or_generate(dir.path(), Some("nope")).is_err());

        let plain = tempfile::tempdir().unwrap();
        let key = NodeKey::load_or_generate(plain.path(), None).unwrap();
        let pk = encrypt_in_place(plain.path(), "pw2", FAST).unwrap();
        assert_eq!(pk, key.pubkey_hex);
        assert!(encrypt_in_place(plain.path(), "pw2", FAST).unwrap_err().to_string().contains("already"));
        let again = NodeKey::load_or_generate(plain.path(), Some("pw2")).unwrap();
        assert_eq!(again.secret, key.secret);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(plain.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
