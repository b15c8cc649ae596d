//! The publisher's account of one subscription (docs/btp-nips.md §4, "Resume"), a BTP-NIPs
//! message between nodes only (never sent to NIP-01 clients):
//!
//! `["ACCOUNT", <sub id>, {"periods_paid": n, "events_delivered": n, "amount_paid": u, "owed": u}]`
//!
//! Amounts are asset units of the publisher's node; counts are EVENTs whose delivery the
//! subscriber fulfilled. `owed` = `periods_paid × subscription + events_delivered ×
//! event_delivered − amount_paid` (0 when paid ahead). A publisher sends it first on a
//! resumed subscription, so a subscriber that lost what it had not yet paid (a crash between
//! storing a delivery and paying for it) pays exactly that, and nothing twice.
use serde::{Deserialize, Serialize};

/// The message type, first element of the JSON array.
pub const ACCOUNT: &str = "ACCOUNT";

/// A publisher's figures for one subscription; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Subscription periods paid for.
    pub periods_paid: u64,
    /// EVENTs delivered and fulfilled.
    pub events_delivered: u64,
    /// All money received for the subscription, asset units.
    pub amount_paid: u64,
    /// What the subscriber owes now, asset units.
    pub owed: u64,
}

/// `["ACCOUNT", subscription_id, figures]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The subscriber's subscription id.
    pub subscription_id: String,
    /// The publisher's figures.
    pub figures: Figures,
}

impl Account {
    /// The JSON text of the message.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&(ACCOUNT, &self.subscription_id, &self.figures)).expect("plain data serializes")
    }

    /// Parse the JSON text of an `ACCOUNT` message.
    ///
    /// Errors: the text is not a 3-element array starting with `"ACCOUNT"`, the id is not a
    /// string, or the figures are not an object of four unsigned integers (`invalid: …`).
    pub fn parse(text: &str) -> Result<Account, String> {
        let (kind, subscription_id, figures): (String, String, Figures) =
            serde_json::from_str(text).map_err(|e| format!("invalid: ACCOUNT: {e}"))?;
        if kind != ACCOUNT {
            return Err(format!("invalid: not an ACCOUNT message: {kind:?}"));
        }
        Ok(Account { subscription_id, figures })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let a = Account {
            subscription_id: "btpnips-00".into(),
            figures: Figures { periods_paid: 1, events_delivered: 250, amount_paid: 3_400, owed: 100 },
        };
        let text = a.to_json();
        assert_eq!(
            text,
            r#"["ACCOUNT","btpnips-00",{"periods_paid":1,"events_delivered":250,"amount_paid":3400,"owed":100}]"#
        );
        assert_eq!(Account::parse(&text).unwrap(), a);
        assert!(Account::parse(r#"["NOTICE","x",{}]"#).is_err());
        assert!(Account::parse(r#"["ACCOUNT","x",{"periods_paid":-1,"events_delivered":0,"amount_paid":0,"owed":0}]"#)
            .is_err());
        assert!(Account::parse(r#"["ACCOUNT","x"]"#).is_err());
    }
}
