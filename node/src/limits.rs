//! Resource bounds (issue 11): every knob that keeps a client or a peer from exhausting the
//! node, in one config section, `[limits]` in `btpnips.toml` (`BTPNIPS_LIMITS__…` in the
//! environment). Every field has a default a home node can live with, so existing configs keep
//! working. What each bound does and which test proves it: ARCHITECTURE.md "Invariants".
use serde::{Deserialize, Serialize};

/// All resource bounds of the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    /// Connection caps of the NIP-01 relay listener (`relay_listen`).
    pub relay: ListenerLimits,
    /// Connection caps of the operator API listener (`api_listen`).
    pub api: ListenerLimits,
    /// Connection caps of the BTP-over-WebSocket peer listener (`peer_listen`).
    pub peer: ListenerLimits,
    /// Seconds a new TCP connection has to complete its HTTP request head (relay, API) or its
    /// WebSocket upgrade and BTP auth (peer listener); also the most an idle HTTP keep-alive
    /// connection is kept. A connection that sends nothing, or half a request, is closed then.
    pub handshake_timeout_secs: u64,
    /// Seconds of silence from a WebSocket peer (relay client or BTP link) after which the node
    /// sends a Ping. Any frame received counts as activity.
    pub ws_ping_interval_secs: u64,
    /// Seconds after that Ping within which some frame (the Pong, NIP-01 clients answer it
    /// automatically) must arrive; otherwise the connection is closed.
    pub ws_pong_timeout_secs: u64,
    /// Bytes of NIP-01 messages queued for one relay client and not yet written to its socket.
    /// At the bound the session pauses (reads nothing from the client, produces no more of a
    /// REQ's stored matches) until the client reads.
    pub relay_outbound_bytes: usize,
    /// Seconds a relay session may stay paused at `relay_outbound_bytes` before the client is
    /// closed with `NOTICE "rate-limited: …"` and close code 1008.
    pub relay_slow_reader_secs: u64,
    /// EVENTs per IP address (relay clients).
    pub event_rate_per_ip: RateLimit,
    /// EVENTs per author pubkey (relay clients).
    pub event_rate_per_pubkey: RateLimit,
    /// Apply the EVENT rate limits to loopback clients too. Off by default: a loopback client
    /// is the owner's (the relay listens on 127.0.0.1 by default) and may publish as fast as
    /// the writer commits.
    pub rate_limit_loopback: bool,
    /// Incoming BTP Messages (Prepares, claims, any kind) one peer link may have in flight,
    /// answer not yet queued, on BTP/WS and on libp2p; past it a Message is answered at once
    /// with an ILP Reject `T05 rate-limited:` and holds nothing.
    pub peer_in_flight: usize,
    /// Answers queued for one BTP/WS peer and not yet written. A peer that lets this queue
    /// fill does not read: its link is closed.
    pub peer_outbound_messages: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            // An idle client costs ~14 KiB (bench/idle_connections.mjs: 10 000 in 150 MiB RSS
            // all told), so the global cap costs ~230 MiB at most; a remote IP gets 256 (a busy
            // client app opens a handful). Loopback clients are the owner's: only the global cap
            // applies to them.
            relay: ListenerLimits { max_connections: 16_384, max_connections_per_ip: 256, exempt_loopback: true },
            // The operator and the CLI: a few connections at a time.
            api: ListenerLimits { max_connections: 256, max_connections_per_ip: 32, exempt_loopback: true },
            // Peer links: `p2p.max_links`-sized numbers; one IP rarely hosts more than a few
            // nodes. Loopback exempt: test networks run many nodes on 127.0.0.1.
            peer: ListenerLimits { max_connections: 256, max_connections_per_ip: 8, exempt_loopback: true },
            handshake_timeout_secs: 10,
            ws_ping_interval_secs: 30,
            ws_pong_timeout_secs: 20,
            relay_outbound_bytes: 2 * 1024 * 1024,
            relay_slow_reader_secs: 10,
            event_rate_per_ip: RateLimit { per_sec: 50, burst: 500 },
            event_rate_per_pubkey: RateLimit { per_sec: 20, burst: 200 },
            rate_limit_loopback: false,
            peer_in_flight: crate::link::MAX_INCOMING_IN_FLIGHT,
            peer_outbound_messages: 1024,
        }
    }
}

impl LimitsConfig {
    /// `handshake_timeout_secs` as a duration.
    pub fn handshake_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.handshake_timeout_secs)
    }
}

/// Connection caps of one listener. Over a cap the TCP connection is closed at once, before a
/// byte is read (no HTTP 503: answering would cost the very resources the cap protects), and
/// the refusal is logged at most once a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerLimits {
    /// Most open connections on this listener, all addresses together.
    pub max_connections: usize,
    /// Most open connections from one IP address.
    pub max_connections_per_ip: usize,
    /// Loopback addresses (the owner's own machine) are not counted per IP; the global cap
    /// still applies to them.
    pub exempt_loopback: bool,
}

/// A token bucket: `burst` at once, refilled at `per_sec` per second. `per_sec: 0` turns the
/// limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Sustained rate, per second; 0 = unlimited.
    pub per_sec: u32,
    /// Bucket size: how many may come at once.
    pub burst: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `[limits]` block of README.md "Resource limits" is the defaults, spelled out.
    #[test]
    fn the_readme_block_is_the_defaults() {
        use figment::providers::{Format, Toml};
        let readme = include_str!("../../README.md");
        let start = readme.find("```toml\n[limits]\n").expect("README has the [limits] block") + 8;
        let block = &readme[start..start + readme[start..].find("```").unwrap()];
        let parsed: LimitsConfig =
            figment::Figment::from(Toml::string(block)).extract_inner("limits").expect("README [limits] parses");
        assert_eq!(parsed, LimitsConfig::default());
    }

    #[test]
    fn an_empty_section_and_a_partial_one_take_the_defaults() {
        let empty: LimitsConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, LimitsConfig::default());
        let partial: LimitsConfig =
            serde_json::from_str(r#"{"relay_outbound_bytes": 1000, "relay": {"max_connections": 5, "max_connections_per_ip": 1, "exempt_loopback": false}}"#)
                .unwrap();
        assert_eq!(partial.relay_outbound_bytes, 1000);
        assert_eq!(partial.relay.max_connections, 5);
        assert_eq!(partial.api, LimitsConfig::default().api);
    }
}
