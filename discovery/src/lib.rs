//! Peer discovery.
//!
//! - [`BootstrapPeer`], [`validate_list`]: the configured BTP-over-WebSocket bootstrap list.
//! - [`p2p`]: the libp2p layer (QUIC, Kademlia, identify, request-response for BTP and Nostr).
use serde::{Deserialize, Serialize};

pub mod p2p;

/// A peer to link with at start-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapPeer {
    /// BTP-over-WebSocket URL of the peer's listener, e.g. `ws://127.0.0.1:7790`.
    pub url: String,
    /// The peer's expected x-only pubkey (64 lowercase hex); the link is refused if the peer
    /// proves another key.
    pub pubkey: String,
}

/// Why a bootstrap entry is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BootstrapError {
    /// The URL is not `ws://host:port` (TLS `wss://` is not supported yet).
    #[error("bootstrap url {0:?}: expected ws://host:port")]
    Url(String),
    /// The pubkey is not 64 lowercase hex.
    #[error("bootstrap pubkey {0:?}: {1}")]
    Pubkey(String, protocol::btpnips::BtpNipsError),
}

impl BootstrapPeer {
    /// Check the entry's shape. Errors: [`BootstrapError`].
    pub fn validate(&self) -> Result<(), BootstrapError> {
        let rest = self.url.strip_prefix("ws://").ok_or_else(|| BootstrapError::Url(self.url.clone()))?;
        let host_port = rest.split('/').next().unwrap_or_default();
        let ok = host_port.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
        if !ok {
            return Err(BootstrapError::Url(self.url.clone()));
        }
        protocol::btpnips::secret::parse_hex32(&self.pubkey)
            .map_err(|e| BootstrapError::Pubkey(self.pubkey.clone(), e))?;
        Ok(())
    }
}

/// Check every entry of a bootstrap list; returns the first problem.
pub fn validate_list(peers: &[BootstrapPeer]) -> Result<(), BootstrapError> {
    peers.iter().try_for_each(BootstrapPeer::validate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_urls_and_keys() {
        let good = BootstrapPeer { url: "ws://127.0.0.1:7790".into(), pubkey: "ab".repeat(32) };
        assert_eq!(good.validate(), Ok(()));
        for url in ["http://x:1", "ws://:1", "ws://host", "ws://host:99999"] {
            let p = BootstrapPeer { url: url.into(), ..good.clone() };
            assert!(matches!(p.validate(), Err(BootstrapError::Url(_))), "{url}");
        }
        let p = BootstrapPeer { pubkey: "AB".repeat(32), ..good.clone() };
        assert!(matches!(p.validate(), Err(BootstrapError::Pubkey(..))));
    }
}
