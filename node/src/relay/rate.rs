//! EVENT rate limits of the relay, per client IP and per author pubkey (token buckets via
//! `governor`), answered `OK false "rate-limited: …"` (NIP-01). Loopback clients are the
//! owner's and exempt unless `limits.rate_limit_loopback`.
use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::limits::{LimitsConfig, RateLimit};

/// Which limit an EVENT hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RateRefusal {
    /// Too many EVENTs from the client's IP address.
    #[error("more than {per_sec} EVENTs per second from this IP address")]
    Ip {
        /// The configured rate, per second.
        per_sec: u32,
    },
    /// Too many EVENTs by the event's author.
    #[error("more than {per_sec} EVENTs per second by this author")]
    Pubkey {
        /// The configured rate, per second.
        per_sec: u32,
    },
}

/// The relay's shared EVENT rate limiters.
pub struct EventRate {
    per_ip: Option<(DefaultKeyedRateLimiter<IpAddr>, u32)>,
    per_pubkey: Option<(DefaultKeyedRateLimiter<String>, u32)>,
    loopback_too: bool,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(r: RateLimit) -> Option<(DefaultKeyedRateLimiter<K>, u32)> {
    let per_sec = NonZeroU32::new(r.per_sec)?;
    let burst = NonZeroU32::new(r.burst).unwrap_or(per_sec);
    Some((RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst)), r.per_sec))
}

impl EventRate {
    /// Limiters as `limits` configures them.
    pub fn new(limits: &LimitsConfig) -> Self {
        Self {
            per_ip: limiter(limits.event_rate_per_ip),
            per_pubkey: limiter(limits.event_rate_per_pubkey),
            loopback_too: limits.rate_limit_loopback,
        }
    }

    /// Whether the limits apply to a client at `ip` (loopback is exempt unless configured).
    pub fn applies_to(&self, ip: IpAddr) -> bool {
        self.loopback_too || !ip.to_canonical().is_loopback()
    }

    /// Whether a per-pubkey limit is configured (the caller then verifies the event first, so
    /// a forged event spends no author's budget).
    pub fn limits_pubkeys(&self) -> bool {
        self.per_pubkey.is_some()
    }

    /// Take one token for an EVENT from `ip`, or say that the IP's limit is reached.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), RateRefusal> {
        match &self.per_ip {
            Some((l, per_sec)) => l.check_key(&ip.to_canonical()).map_err(|_| RateRefusal::Ip { per_sec: *per_sec }),
            None => Ok(()),
        }
    }

    /// Take one token for an EVENT by `pubkey` (hex; of a verified event), or say that the
    /// author's limit is reached.
    pub fn check_pubkey(&self, pubkey: &str) -> Result<(), RateRefusal> {
        match &self.per_pubkey {
            Some((l, per_sec)) => {
                l.check_key(&pubkey.to_owned()).map_err(|_| RateRefusal::Pubkey { per_sec: *per_sec })
            }
            None => Ok(()),
        }
    }

    /// Forget keys whose buckets are full again (bounds the maps); call periodically.
    pub fn prune(&self) {
        if let Some((l, _)) = &self.per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some((l, _)) = &self.per_pubkey {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(loopback_too: bool) -> LimitsConfig {
        LimitsConfig {
            event_rate_per_ip: RateLimit { per_sec: 1, burst: 3 },
            event_rate_per_pubkey: RateLimit { per_sec: 1, burst: 2 },
            rate_limit_loopback: loopback_too,
            ..LimitsConfig::default()
        }
    }

    #[test]
    fn the_pubkey_bucket_and_the_ip_bucket_each_refuse_past_their_burst() {
        let r = EventRate::new(&limits(false));
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        assert!(r.check_pubkey("aa").is_ok());
        assert!(r.check_pubkey("aa").is_ok());
        assert_eq!(r.check_pubkey("aa"), Err(RateRefusal::Pubkey { per_sec: 1 }));
        assert!(r.check_pubkey("bb").is_ok());
        assert!((0..3).all(|_| r.check_ip(ip).is_ok()));
        assert_eq!(r.check_ip(ip), Err(RateRefusal::Ip { per_sec: 1 }));
        assert!(r.check_ip("192.0.2.10".parse().unwrap()).is_ok());
    }

    #[test]
    fn loopback_is_exempt_unless_configured_and_zero_turns_a_limit_off() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(!EventRate::new(&limits(false)).applies_to(lo));
        assert!(EventRate::new(&limits(false)).applies_to("192.0.2.1".parse().unwrap()));
        assert!(EventRate::new(&limits(true)).applies_to(lo));
        let off = LimitsConfig { event_rate_per_pubkey: RateLimit { per_sec: 0, burst: 9 }, ..limits(true) };
        let r = EventRate::new(&off);
        assert!(!r.limits_pubkeys());
        assert!((0..100).all(|_| r.check_pubkey("aa").is_ok()));
    }
}
