//! Typed states of the stored records: [`SubscriptionStatus`] and [`ChannelStatus`].
//!
//! Both are stored as TEXT (the `status` columns of `subscriptions` and `channels`) and
//! serialized as a JSON string (the operator status document): `Display` gives that text and
//! `FromStr` parses it back, never failing: text this build does not know (an older database)
//! parses into the `Other` variant and is written back unchanged.
use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// State of a paid subscription ([`crate::SubscriptionRecord::status`]), either direction
/// (docs/btp-nips.md §4). The text forms, exactly as stored:
///
/// | variant | text |
/// |---|---|
/// | [`Opening`](Self::Opening) | `opening` |
/// | [`Active`](Self::Active) | `active` |
/// | [`Resuming`](Self::Resuming) | `resuming`, or `resuming: <why>` |
/// | [`WaitingForResume`](Self::WaitingForResume) | `waiting-for-resume` |
/// | [`WaitingForAnnouncement`](Self::WaitingForAnnouncement) | `waiting: no announcement of the publisher yet` |
/// | [`Local`](Self::Local) | `local: published on this node` |
/// | [`Closed`](Self::Closed) | see [`CloseReason`] |
/// | [`Suspended`](Self::Suspended) | `suspended: subscriber unreachable` |
/// | [`RefusedPrice`](Self::RefusedPrice) | `refused: peer asks <p> per period and <e> per event; our limits are <mp> and <me>` |
/// | [`Other`](Self::Other) | the text itself |
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubscriptionStatus {
    /// Outbound: the REQ is being (re)sent. Also the state of a new inbound record before its
    /// REQ is applied.
    Opening,
    /// The REQ was accepted: events flow (and are paid for).
    Active,
    /// Outbound: to be reopened by the resumer (route or link down, node restarted, the
    /// publisher closed it for a reason we can fix). `Some(why)` is shown after `resuming: `.
    Resuming(Option<String>),
    /// Inbound, after a restart: live delivery resumes when the subscriber sends its REQ again.
    WaitingForResume,
    /// Outbound: the publisher's node is not known yet; its announcement reopens it (§8).
    WaitingForAnnouncement,
    /// Outbound: the publisher is an owner of this very node; nothing to subscribe to.
    Local,
    /// Final: closed, for the given reason.
    Closed(CloseReason),
    /// Inbound: the subscriber was unreachable for too long; delivery stops until it sends its
    /// REQ again.
    Suspended,
    /// Outbound: the publisher's node asks more than our configured limits (asset units at the
    /// peer's asset scale). Final until the owner follows again.
    RefusedPrice {
        /// Price per subscription period the peer asks.
        period_price: u64,
        /// Price per delivered EVENT the peer asks.
        event_price: u64,
        /// Our `max_subscription_price`.
        max_period_price: u64,
        /// Our `max_event_price`.
        max_event_price: u64,
    },
    /// Text this build does not know (e.g. from an older database), kept as is.
    Other(String),
}

/// Why a subscription is [`SubscriptionStatus::Closed`]. Text forms: `closed`,
/// `closed: unfollowed`, `closed: delivery queue overflow`, `closed: unpaid delivery over
/// credit`, and `closed: <peer text>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// Inbound: the subscriber sent CLOSE or closed the REQ's stream. Text `closed`.
    Subscriber,
    /// Outbound: the owner no longer follows the publisher. Text `closed: unfollowed`.
    Unfollowed,
    /// Inbound: more than `MAX_QUEUE` messages waited for delivery; the subscriber was told
    /// to re-subscribe. Text `closed: delivery queue overflow`.
    QueueOverflow,
    /// Inbound: delivery paused at the credit and the subscriber did not pay within the grace
    /// time. Text `closed: unpaid delivery over credit`.
    UnpaidOverCredit,
    /// Outbound: the publisher's node closed it, in its own words: the NIP-01 CLOSED message
    /// (`<prefix>: <text>`, e.g. `payment-required: …`), or `<ILP code> <message>` of the
    /// Reject answering our REQ. Text `closed: <that>`. (A peer text equal to one of the
    /// node's own reasons reads back as that reason; the text is the same.)
    Peer(String),
}

impl SubscriptionStatus {
    /// Events flow: `active`.
    pub fn is_active(&self) -> bool {
        matches!(self, SubscriptionStatus::Active)
    }

    /// Opened or being opened: `active` or `opening`.
    pub fn is_open_or_opening(&self) -> bool {
        matches!(self, SubscriptionStatus::Active | SubscriptionStatus::Opening)
    }

    /// Waiting for the resumer: `resuming…`.
    pub fn is_resuming(&self) -> bool {
        matches!(self, SubscriptionStatus::Resuming(_))
    }

    /// Closed for good: `closed…`.
    pub fn is_closed(&self) -> bool {
        matches!(self, SubscriptionStatus::Closed(_))
    }

    /// Refused by our price limits: `refused…`.
    pub fn is_refused(&self) -> bool {
        matches!(self, SubscriptionStatus::RefusedPrice { .. })
    }

    /// Parse the stored text; never fails (unknown text gives [`SubscriptionStatus::Other`]).
    pub fn parse(s: &str) -> SubscriptionStatus {
        use SubscriptionStatus as S;
        match s {
            "opening" => return S::Opening,
            "active" => return S::Active,
            "resuming" => return S::Resuming(None),
            "waiting-for-resume" => return S::WaitingForResume,
            WAITING_ANNOUNCEMENT => return S::WaitingForAnnouncement,
            LOCAL => return S::Local,
            SUSPENDED => return S::Suspended,
            "closed" => return S::Closed(CloseReason::Subscriber),
            _ => {}
        }
        if let Some(why) = s.strip_prefix("resuming: ") {
            return S::Resuming(Some(why.to_owned()));
        }
        if let Some(rest) = s.strip_prefix("closed: ") {
            return S::Closed(match rest {
                "unfollowed" => CloseReason::Unfollowed,
                "delivery queue overflow" => CloseReason::QueueOverflow,
                "unpaid delivery over credit" => CloseReason::UnpaidOverCredit,
                peer => CloseReason::Peer(peer.to_owned()),
            });
        }
        parse_refused(s).unwrap_or_else(|| S::Other(s.to_owned()))
    }
}

const WAITING_ANNOUNCEMENT: &str = "waiting: no announcement of the publisher yet";
const LOCAL: &str = "local: published on this node";
const SUSPENDED: &str = "suspended: subscriber unreachable";

/// `refused: peer asks {p} per period and {e} per event; our limits are {mp} and {me}`,
/// only if it prints back to exactly `s`.
fn parse_refused(s: &str) -> Option<SubscriptionStatus> {
    let rest = s.strip_prefix("refused: peer asks ")?;
    let (period, rest) = rest.split_once(" per period and ")?;
    let (event, rest) = rest.split_once(" per event; our limits are ")?;
    let (max_period, max_event) = rest.split_once(" and ")?;
    let status = SubscriptionStatus::RefusedPrice {
        period_price: period.parse().ok()?,
        event_price: event.parse().ok()?,
        max_period_price: max_period.parse().ok()?,
        max_event_price: max_event.parse().ok()?,
    };
    // "+1" or "01" parse as numbers but would not print back the same.
    (status.to_string() == s).then_some(status)
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SubscriptionStatus as S;
        match self {
            S::Opening => f.write_str("opening"),
            S::Active => f.write_str("active"),
            S::Resuming(None) => f.write_str("resuming"),
            S::Resuming(Some(why)) => write!(f, "resuming: {why}"),
            S::WaitingForResume => f.write_str("waiting-for-resume"),
            S::WaitingForAnnouncement => f.write_str(WAITING_ANNOUNCEMENT),
            S::Local => f.write_str(LOCAL),
            S::Closed(reason) => reason.fmt(f),
            S::Suspended => f.write_str(SUSPENDED),
            S::RefusedPrice { period_price, event_price, max_period_price, max_event_price } => write!(
                f,
                "refused: peer asks {period_price} per period and {event_price} per event; our limits are {max_period_price} and {max_event_price}"
            ),
            S::Other(s) => f.write_str(s),
        }
    }
}

impl fmt::Display for CloseReason {
    /// The full status text, `closed` included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Subscriber => f.write_str("closed"),
            CloseReason::Unfollowed => f.write_str("closed: unfollowed"),
            CloseReason::QueueOverflow => f.write_str("closed: delivery queue overflow"),
            CloseReason::UnpaidOverCredit => f.write_str("closed: unpaid delivery over credit"),
            CloseReason::Peer(text) => write!(f, "closed: {text}"),
        }
    }
}

impl FromStr for SubscriptionStatus {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(SubscriptionStatus::parse(s))
    }
}

/// State of a payment channel ([`crate::ChannelRecord::status`]). Text forms: `open`,
/// `closing`, `closed`, `refunded`, `reclaimed`, or any other text as is
/// ([`ChannelStatus::Other`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChannelStatus {
    /// Open on chain: claims are signed (outbound) or accepted (inbound).
    Open,
    /// Inbound: our close transaction with the highest claim is under way; claims are refused.
    Closing,
    /// Closed on chain.
    Closed,
    /// Outbound: closed by the payee, and we pulled the refund of the rest of the deposit.
    Refunded,
    /// Reclaimed by the sender after expiry.
    Reclaimed,
    /// Text this build does not know, kept as is.
    Other(String),
}

impl ChannelStatus {
    /// Open: `open`.
    pub fn is_open(&self) -> bool {
        matches!(self, ChannelStatus::Open)
    }

    /// Done with: `closed`, `refunded` or `reclaimed` (not loaded at start).
    pub fn is_final(&self) -> bool {
        matches!(self, ChannelStatus::Closed | ChannelStatus::Refunded | ChannelStatus::Reclaimed)
    }

    /// Parse the stored text; never fails (unknown text gives [`ChannelStatus::Other`]).
    pub fn parse(s: &str) -> ChannelStatus {
        match s {
            "open" => ChannelStatus::Open,
            "closing" => ChannelStatus::Closing,
            "closed" => ChannelStatus::Closed,
            "refunded" => ChannelStatus::Refunded,
            "reclaimed" => ChannelStatus::Reclaimed,
            other => ChannelStatus::Other(other.to_owned()),
        }
    }

    /// The stored text.
    pub fn as_str(&self) -> &str {
        match self {
            ChannelStatus::Open => "open",
            ChannelStatus::Closing => "closing",
            ChannelStatus::Closed => "closed",
            ChannelStatus::Refunded => "refunded",
            ChannelStatus::Reclaimed => "reclaimed",
            ChannelStatus::Other(s) => s,
        }
    }
}

impl fmt::Display for ChannelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChannelStatus {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(ChannelStatus::parse(s))
    }
}

macro_rules! serde_as_text {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(<$t>::parse(&String::deserialize(d)?))
            }
        }
    };
}
serde_as_text!(SubscriptionStatus);
serde_as_text!(ChannelStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_status_round_trips_todays_texts() {
        use SubscriptionStatus as S;
        let cases = [
            (S::Opening, "opening"),
            (S::Active, "active"),
            (S::Resuming(None), "resuming"),
            (S::Resuming(Some("no route to the publisher".into())), "resuming: no route to the publisher"),
            (
                S::Resuming(Some("the publisher closed it: error: shutting down".into())),
                "resuming: the publisher closed it: error: shutting down",
            ),
            (S::WaitingForResume, "waiting-for-resume"),
            (S::WaitingForAnnouncement, "waiting: no announcement of the publisher yet"),
            (S::Local, "local: published on this node"),
            (S::Closed(CloseReason::Subscriber), "closed"),
            (S::Closed(CloseReason::Unfollowed), "closed: unfollowed"),
            (S::Closed(CloseReason::QueueOverflow), "closed: delivery queue overflow"),
            (S::Closed(CloseReason::UnpaidOverCredit), "closed: unpaid delivery over credit"),
            (S::Closed(CloseReason::Peer("F99 rate-limited: slow down".into())), "closed: F99 rate-limited: slow down"),
            (S::Closed(CloseReason::Peer("payment-required: not paid".into())), "closed: payment-required: not paid"),
            (S::Suspended, "suspended: subscriber unreachable"),
            (
                S::RefusedPrice { period_price: 5000, event_price: 20, max_period_price: 1000, max_event_price: 10 },
                "refused: peer asks 5000 per period and 20 per event; our limits are 1000 and 10",
            ),
        ];
        for (status, text) in cases {
            assert_eq!(status.to_string(), text);
            assert_eq!(text.parse::<S>().unwrap(), status, "{text}");
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, serde_json::to_string(text).unwrap());
            assert_eq!(serde_json::from_str::<S>(&json).unwrap(), status);
        }
    }

    #[test]
    fn unknown_subscription_text_is_kept() {
        for text in [
            "",
            "paused",
            "waiting: for godot",
            "refused: too dear",
            "refused: peer asks 01 per period and 2 per event; our limits are 3 and 4",
        ] {
            let status = SubscriptionStatus::parse(text);
            assert_eq!(status, SubscriptionStatus::Other(text.into()));
            assert_eq!(status.to_string(), text);
            assert!(!status.is_closed() && !status.is_active() && !status.is_refused());
        }
    }

    #[test]
    fn subscription_predicates() {
        use SubscriptionStatus as S;
        assert!(S::Active.is_active() && S::Active.is_open_or_opening());
        assert!(S::Opening.is_open_or_opening() && !S::Opening.is_active());
        assert!(S::Resuming(None).is_resuming() && S::Resuming(Some("x".into())).is_resuming());
        assert!(S::Closed(CloseReason::Peer("x".into())).is_closed());
        assert!(
            S::RefusedPrice { period_price: 1, event_price: 1, max_period_price: 0, max_event_price: 0 }.is_refused()
        );
        assert!(!S::WaitingForResume.is_active() && !S::Suspended.is_closed());
    }

    #[test]
    fn channel_status_round_trips() {
        use ChannelStatus as C;
        let cases = [
            (C::Open, "open"),
            (C::Closing, "closing"),
            (C::Closed, "closed"),
            (C::Refunded, "refunded"),
            (C::Reclaimed, "reclaimed"),
            (C::Other("disputed".into()), "disputed"),
        ];
        for (status, text) in cases {
            assert_eq!(status.to_string(), text);
            assert_eq!(text.parse::<C>().unwrap(), status);
            assert_eq!(serde_json::to_value(&status).unwrap(), serde_json::Value::String(text.into()));
            assert_eq!(serde_json::from_value::<C>(text.into()).unwrap(), status);
        }
        assert!(C::Open.is_open() && !C::Closing.is_open());
        assert!(C::Closed.is_final() && C::Refunded.is_final() && C::Reclaimed.is_final());
        assert!(!C::Open.is_final() && !C::Closing.is_final() && !C::Other("x".into()).is_final());
    }
}
