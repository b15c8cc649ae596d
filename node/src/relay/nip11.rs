//! NIP-11 relay information document, served on the relay port to
//! `Accept: application/nostr+json`.
use serde_json::{json, Value};

use crate::node::Node;

/// The NIP-11 document for this node.
pub fn document(node: &Node) -> Value {
    let p = &node.config.prices;
    json!({
        "name": "btpnips",
        "description": "A btpnips node: your own Nostr relay, peered with other nodes over Interledger",
        "pubkey": node.key.pubkey_hex,
        "software": "https://github.com/btpnips/btpnips",
        "version": env!("CARGO_PKG_VERSION"),
        "supported_nips": [1, 11],
        "limitation": {
            "max_message_length": super::session::MAX_MESSAGE_BYTES,
            "max_subscriptions": super::session::MAX_SUBSCRIPTIONS,
            "max_subid_length": 64,
            "max_limit": storage::MAX_QUERY_EVENTS,
            "max_event_tags": 2000,
            "max_content_length": crate::ingest::MAX_EVENT_BYTES,
            "payment_required": false,
            "auth_required": false
        },
        "btpnips": {
            "ilp_address": node.address.to_string(),
            "asset_code": node.config.asset_code,
            "asset_scale": node.config.asset_scale,
            "prices": {
                "subscription": p.subscription,
                "subscription_period_secs": p.subscription_period_secs,
                "event_delivered": p.event_delivered,
                "delivery_credit": p.delivery_credit
            }
        }
    })
}
