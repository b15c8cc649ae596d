//! The node key: one secp256k1 key that is the node's Nostr identity (BIP-340 x-only pubkey)
//! and authenticates its peer links. Generated on first start and kept in
//! `<data_dir>/node.key` (hex, file mode 0600).
//!
//! Encryption at rest with a passphrase (design.md, "Identity") is not done yet: the file is
//! protected by its permissions only.
use std::path::Path;

use secp256k1::Keypair;

/// File name of the key inside the data dir.
pub const KEY_FILE: &str = "node.key";

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

impl NodeKey {
    /// Key pair from a secret key. Errors: the bytes are not a valid secp256k1 secret key.
    pub fn from_secret(secret: [u8; 32]) -> anyhow::Result<Self> {
        let kp = Keypair::from_secret_bytes(secret).map_err(|e| anyhow::anyhow!("invalid secret key: {e}"))?;
        let pubkey = kp.x_only_public_key().0.to_byte_array();
        Ok(Self { secret, pubkey, pubkey_hex: hex::encode(pubkey) })
    }

    /// Read `<dir>/node.key`, or generate and write a new key if the file is missing.
    ///
    /// Errors: unreadable file, malformed hex, or an invalid key.
    pub fn load_or_generate(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let mut secret = [0u8; 32];
                hex::decode_to_slice(text.trim(), &mut secret)
                    .map_err(|e| anyhow::anyhow!("{}: not 64 hex characters: {e}", path.display()))?;
                Self::from_secret(secret)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = loop {
                    let secret: [u8; 32] = rand::random();
                    if let Ok(k) = Self::from_secret(secret) {
                        break k;
                    }
                };
                write_private(&path, &hex::encode(key.secret))?;
                tracing::info!(pubkey = %key.pubkey_hex, path = %path.display(), "generated node key");
                Ok(key)
            }
            Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
        }
    }
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
    let mut f = opts.open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}
