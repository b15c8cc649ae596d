//! Chain presets: the networks a btpnips node settles on.

/// A known chain: human name, EIP-155 chain id and a default public JSON-RPC endpoint.
///
/// The chain id is part of every claim's EIP-712 domain ([`crate::ChannelDomain`]), so a claim
/// signed for one chain never verifies on another. The public endpoints are rate limited; a
/// production node should configure its own RPC URL. `https` endpoints need this crate's
/// `rustls` feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ChainPreset {
    /// Human-readable name (also accepted by [`ChainPreset::by_name`]).
    pub name: &'static str,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Default JSON-RPC endpoint.
    pub rpc_url: &'static str,
}

/// Base mainnet (OP-stack L2), chain id 8453.
pub const BASE_MAINNET: ChainPreset =
    ChainPreset { name: "base-mainnet", chain_id: 8453, rpc_url: "https://mainnet.base.org" };

/// Base Sepolia testnet, chain id 84532.
pub const BASE_SEPOLIA: ChainPreset =
    ChainPreset { name: "base-sepolia", chain_id: 84532, rpc_url: "https://sepolia.base.org" };

/// A local anvil devnet with its defaults (chain id 31337, port 8545).
pub const ANVIL: ChainPreset = ChainPreset { name: "anvil", chain_id: 31337, rpc_url: "http://127.0.0.1:8545" };

impl ChainPreset {
    /// All presets, in the order mainnet, testnet, devnet.
    pub const ALL: [ChainPreset; 3] = [BASE_MAINNET, BASE_SEPOLIA, ANVIL];

    /// The preset with this name (`base-mainnet`, `base-sepolia`, `anvil`; case-insensitive).
    pub fn by_name(name: &str) -> Option<ChainPreset> {
        Self::ALL.into_iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The preset with this chain id.
    pub fn by_chain_id(chain_id: u64) -> Option<ChainPreset> {
        Self::ALL.into_iter().find(|p| p.chain_id == chain_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(ChainPreset::by_name("BASE-mainnet"), Some(BASE_MAINNET));
        assert_eq!(ChainPreset::by_chain_id(84532), Some(BASE_SEPOLIA));
        assert_eq!(ChainPreset::by_chain_id(31337), Some(ANVIL));
        assert_eq!(ChainPreset::by_chain_id(1), None);
        assert_eq!(ChainPreset::by_name("mainnet"), None);
    }
}
