//! The event pipeline for events published by local clients: check → verify → store (the
//! single writer commits) → fan out. The answer is a NIP-01 `OK` and `OK true` is only
//! given after the commit.
use std::sync::Arc;

use protocol::nostr::{machine_message, prefix, Event};
use storage::InsertOutcome;

use crate::node::Node;

/// Largest event accepted, as JSON bytes (128 KiB).
pub const MAX_EVENT_BYTES: usize = 128 * 1024;
/// How far in the future (seconds) `created_at` may be.
pub const MAX_FUTURE_SECS: u64 = 15 * 60;

/// Accept or refuse one event. Returns `(accepted, message)` for `["OK", id, accepted,
/// message]`; refusals start with a NIP-01 machine-readable prefix.
pub async fn publish(node: &Arc<Node>, event: Event) -> (bool, String) {
    if let Err(why) = check(&event) {
        return (false, why);
    }
    store_checked(node, event).await
}

/// [`publish`] for an event that already passed [`check`]: store, then fan out. Returns
/// `(accepted, message)` as [`publish`] does (`OK true` only after the commit; a storage
/// failure is `(false, "error: …")`).
pub async fn store_checked(node: &Arc<Node>, event: Event) -> (bool, String) {
    let event = Arc::new(event);
    match node.storage.writer().insert_event((*event).clone()).await {
        Ok(InsertOutcome::Stored | InsertOutcome::Ephemeral) => {
            let _ = node.hub.send(event.clone());
            crate::btpnips::on_new_event(node, &event);
            crate::announce::on_local(node, &event);
            crate::btpnips::paid_publish::on_local(node, &event);
            (true, String::new())
        }
        Ok(InsertOutcome::Duplicate) => (true, machine_message(prefix::DUPLICATE, "already have this event")),
        Ok(InsertOutcome::Superseded) => {
            (true, machine_message(prefix::DUPLICATE, "have a newer version of this replaceable event"))
        }
        Err(e) => {
            tracing::error!(error = %e, "could not store event");
            (false, machine_message(prefix::ERROR, "could not store the event"))
        }
    }
}

/// The checks every event passes before storage, from a local client or a paying peer:
/// size, id and signature, `created_at` at most [`MAX_FUTURE_SECS`] ahead.
///
/// Errors: the NIP-01 `OK false` message (machine-readable prefix first).
pub fn check(event: &Event) -> Result<(), String> {
    let size = event.to_json().len();
    if size > MAX_EVENT_BYTES {
        return Err(machine_message(
            prefix::INVALID,
            &format!("event is {size} bytes; the limit is {MAX_EVENT_BYTES}"),
        ));
    }
    event.verify().map_err(|e| e.to_ok_message())?;
    if event.created_at > crate::clock::now_secs() + MAX_FUTURE_SECS {
        return Err(machine_message(prefix::INVALID, "created_at is more than 15 minutes in the future"));
    }
    Ok(())
}
