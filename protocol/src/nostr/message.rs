//! NIP-01 client and relay messages: the JSON-array grammar spoken over a relay websocket
//! (and, in btpnips, between nodes inside STREAM), plus the machine-readable prefixes used
//! in `OK` and `CLOSED` messages.
use serde::Deserialize;
use serde_json::Value;

use super::event::{is_lower_hex, Event};
use super::filter::{Filter, FilterError};

/// NIP-01 machine-readable prefixes for the message of `["OK", ..]` and `["CLOSED", ..]`
/// (the word before `": "`). Build a full message with [`machine_message`].
pub mod prefix {
    /// The event or request is malformed or fails validation (bad id, bad signature, …).
    pub const INVALID: &str = "invalid";
    /// The relay already has this event / subscription.
    pub const DUPLICATE: &str = "duplicate";
    /// The author or client is not allowed to write here.
    pub const BLOCKED: &str = "blocked";
    /// Too many messages; slow down.
    pub const RATE_LIMITED: &str = "rate-limited";
    /// Refused by relay policy (e.g. only the owner may write).
    pub const RESTRICTED: &str = "restricted";
    /// Anything else went wrong on the relay side.
    pub const ERROR: &str = "error";
    /// The relay wants payment before accepting (for btpnips: an ILP payment).
    pub const PAYMENT_REQUIRED: &str = "payment-required";
    /// Proof-of-work related (NIP-13).
    pub const POW: &str = "pow";
    /// The event's author is muted by the relay.
    pub const MUTE: &str = "mute";
    /// The request uses something the relay does not support (NIP-01 `CLOSED` example).
    pub const UNSUPPORTED: &str = "unsupported";
    /// The client must authenticate first (NIP-42).
    pub const AUTH_REQUIRED: &str = "auth-required";
}

/// A NIP-01 machine-readable message: `"<prefix>: <text>"`, e.g.
/// `machine_message(prefix::BLOCKED, "not the owner")` → `"blocked: not the owner"`.
pub fn machine_message(prefix: &str, text: &str) -> String {
    format!("{prefix}: {text}")
}

/// Maximum length of a subscription id, in characters (NIP-01).
pub const MAX_SUBSCRIPTION_ID_CHARS: usize = 64;

/// Whether `id` is a valid NIP-01 subscription id: non-empty, at most 64 characters
/// (Unicode scalar values, not bytes).
pub fn is_valid_subscription_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_SUBSCRIPTION_ID_CHARS
}

/// A message from a client to a relay (NIP-01).
///
/// JSON forms: `["EVENT", <event>]`, `["REQ", <subscription id>, <filter>, <filter>, ..]`,
/// `["CLOSE", <subscription id>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Publish an event. Parsing does not verify it; call [`Event::verify`].
    Event(Event),
    /// Open (or replace) subscription `subscription_id` with at least one filter (OR-ed).
    Req {
        /// Non-empty, at most 64 characters.
        subscription_id: String,
        /// One or more filters; an event matching any of them is sent.
        filters: Vec<Filter>,
    },
    /// Close subscription `subscription_id`.
    Close {
        /// Non-empty, at most 64 characters.
        subscription_id: String,
    },
}

/// A message from a relay to a client (NIP-01). btpnips nodes also send these to each other.
///
/// JSON forms: `["EVENT", <subscription id>, <event>]`,
/// `["OK", <event id>, <true|false>, <message>]`, `["EOSE", <subscription id>]`,
/// `["CLOSED", <subscription id>, <message>]`, `["NOTICE", <message>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayMessage {
    /// An event matching subscription `subscription_id`.
    Event {
        /// The client's subscription id.
        subscription_id: String,
        /// The matching event.
        event: Event,
    },
    /// The answer to a client's `EVENT`.
    Ok {
        /// 64 lowercase hex chars.
        event_id: String,
        /// Whether the relay accepted (stored or relayed) the event.
        accepted: bool,
        /// Empty, or `"<prefix>: <text>"` (see [`prefix`], [`machine_message`]); must be
        /// non-empty when `accepted` is false.
        message: String,
    },
    /// End of stored events for `subscription_id`; live events follow.
    Eose {
        /// The client's subscription id.
        subscription_id: String,
    },
    /// The relay ended or refused subscription `subscription_id`.
    Closed {
        /// The client's subscription id.
        subscription_id: String,
        /// `"<prefix>: <text>"` (see [`prefix`], [`machine_message`]).
        message: String,
    },
    /// A human-readable notice.
    Notice {
        /// Free text.
        message: String,
    },
}

/// Why a text is not a valid NIP-01 message.
///
/// The `Display` text carries the NIP-01 `invalid:` prefix, so it can be sent as the message
/// of `OK` / `CLOSED` (or `NOTICE`) as is. Use [`MessageError::event_id`] to answer
/// `["OK", <id>, false, ..]` and [`MessageError::subscription_id`] to answer
/// `["CLOSED", <id>, ..]` when the failing message identified itself; otherwise `NOTICE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The text is not JSON. Holds serde_json's description.
    #[error("invalid: message is not valid JSON ({0})")]
    NotJson(String),
    /// The JSON is not an array whose first element is a string.
    #[error("invalid: message must be a JSON array starting with the message type")]
    NotArray,
    /// The message type is not one this parser knows (held truncated to 32 chars).
    #[error("invalid: unknown message type {0:?}")]
    UnknownType(String),
    /// A known message type with the wrong number of elements (type included).
    #[error("invalid: {message_type} message must have {expected} elements, got {found}")]
    WrongLength {
        /// `"EVENT"`, `"CLOSE"`, `"OK"`, …
        message_type: &'static str,
        /// The required element count, type element included.
        expected: usize,
        /// The element count received.
        found: usize,
    },
    /// A subscription id that is missing, not a string, empty or longer than 64 characters.
    #[error("invalid: subscription id must be a non-empty string of at most 64 characters")]
    BadSubscriptionId,
    /// A `REQ` with a valid subscription id and no filter.
    #[error("invalid: REQ needs at least one filter")]
    NoFilters {
        /// The REQ's subscription id.
        subscription_id: String,
    },
    /// A `REQ` filter (or a lone filter given to [`super::parse_filter`]) is invalid.
    #[error("{source}")]
    BadFilter {
        /// The REQ's subscription id; `None` outside a REQ.
        subscription_id: Option<String>,
        /// What is wrong with the filter.
        #[source]
        source: FilterError,
    },
    /// An `EVENT` message whose event is missing or malformed (missing field, wrong type).
    #[error("invalid: malformed event ({detail})")]
    BadEvent {
        /// The event's `id`, when it is present as 64 lowercase hex.
        event_id: Option<String>,
        /// What is wrong.
        detail: String,
    },
    /// A relay message with a field of the wrong type or shape.
    #[error("invalid: {message_type} message: {detail}")]
    BadField {
        /// `"OK"`, `"CLOSED"`, `"NOTICE"`.
        message_type: &'static str,
        /// What is wrong.
        detail: &'static str,
    },
}

impl MessageError {
    /// The subscription id of the `REQ` that failed, when it was readable and valid, so a
    /// relay can answer `["CLOSED", <id>, <self.to_string()>]` instead of a `NOTICE`.
    pub fn subscription_id(&self) -> Option<&str> {
        match self {
            MessageError::NoFilters { subscription_id } => Some(subscription_id),
            MessageError::BadFilter { subscription_id, .. } => subscription_id.as_deref(),
            _ => None,
        }
    }

    /// The id (64 lowercase hex) of the `EVENT` that failed, when it was readable, so a relay
    /// can answer `["OK", <id>, false, <self.to_string()>]` instead of a `NOTICE`.
    pub fn event_id(&self) -> Option<&str> {
        match self {
            MessageError::BadEvent { event_id, .. } => event_id.as_deref(),
            _ => None,
        }
    }
}

/// Splits a message into its type string and the whole element array.
fn parse_array(text: &str) -> Result<(String, Vec<Value>), MessageError> {
    let value: Value = serde_json::from_str(text).map_err(|e| MessageError::NotJson(e.to_string()))?;
    let Value::Array(items) = value else {
        return Err(MessageError::NotArray);
    };
    let Some(Value::String(kind)) = items.first() else {
        return Err(MessageError::NotArray);
    };
    Ok((kind.clone(), items))
}

fn unknown_type(kind: &str) -> MessageError {
    MessageError::UnknownType(kind.chars().take(32).collect())
}

fn expect_len(items: &[Value], message_type: &'static str, expected: usize) -> Result<(), MessageError> {
    if items.len() == expected {
        Ok(())
    } else {
        Err(MessageError::WrongLength { message_type, expected, found: items.len() })
    }
}

fn subscription_id(value: Option<&Value>) -> Result<String, MessageError> {
    match value {
        Some(Value::String(s)) if is_valid_subscription_id(s) => Ok(s.clone()),
        _ => Err(MessageError::BadSubscriptionId),
    }
}

/// Parses an event object, reporting the id (if readable) on failure.
fn event(value: Option<&Value>) -> Result<Event, MessageError> {
    let Some(value) = value else {
        return Err(MessageError::BadEvent { event_id: None, detail: "missing event".into() });
    };
    Event::deserialize(value)
        .map_err(|e| MessageError::BadEvent { event_id: readable_event_id(value), detail: e.to_string() })
}

/// The `id` of an event-like JSON object when it is 64 lowercase hex.
fn readable_event_id(value: &Value) -> Option<String> {
    value.get("id").and_then(Value::as_str).filter(|id| is_lower_hex(id, 64)).map(str::to_owned)
}

fn string_field(
    value: Option<&Value>,
    message_type: &'static str,
    detail: &'static str,
) -> Result<String, MessageError> {
    match value {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(MessageError::BadField { message_type, detail }),
    }
}

/// A JSON string literal (standard JSON escaping).
fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("serializing a string cannot fail")
}

impl ClientMessage {
    /// Parses one client message (the text of one websocket frame), NIP-01 grammar.
    ///
    /// Rules: the text is a JSON array whose first element is `"EVENT"`, `"REQ"` or
    /// `"CLOSE"`; `EVENT` has exactly one event object (all seven fields, right types; not
    /// verified here); `REQ` has a subscription id (non-empty, at most 64 chars) and at least
    /// one filter object (see [`Filter::from_json`]); `CLOSE` has exactly a subscription id.
    ///
    /// # Errors
    /// [`MessageError`]: `NotJson`, `NotArray`, `UnknownType` (also for `AUTH`, `COUNT` and
    /// other message types from later NIPs), `WrongLength` (`EVENT`, `CLOSE`),
    /// `BadSubscriptionId`, `NoFilters`, `BadFilter` or `BadEvent`. `NoFilters` and
    /// `BadFilter` carry the subscription id, `BadEvent` the event id when readable.
    pub fn parse(text: &str) -> Result<ClientMessage, MessageError> {
        let (kind, items) = parse_array(text)?;
        match kind.as_str() {
            "EVENT" => {
                if items.len() != 2 {
                    return Err(MessageError::BadEvent {
                        event_id: items.get(1).and_then(readable_event_id),
                        detail: format!("EVENT message must have 2 elements, got {}", items.len()),
                    });
                }
                Ok(ClientMessage::Event(event(items.get(1))?))
            }
            "REQ" => {
                let subscription_id = subscription_id(items.get(1))?;
                if items.len() < 3 {
                    return Err(MessageError::NoFilters { subscription_id });
                }
                let filters =
                    items[2..].iter().map(Filter::from_json).collect::<Result<Vec<_>, _>>().map_err(|source| {
                        MessageError::BadFilter { subscription_id: Some(subscription_id.clone()), source }
                    })?;
                Ok(ClientMessage::Req { subscription_id, filters })
            }
            "CLOSE" => {
                expect_len(&items, "CLOSE", 2)?;
                Ok(ClientMessage::Close { subscription_id: subscription_id(items.get(1))? })
            }
            other => Err(unknown_type(other)),
        }
    }

    /// The compact NIP-01 JSON array, e.g. `["REQ","sub1",{"kinds":[1]}]`. Events keep their
    /// field order (see [`Event::to_json`]).
    pub fn to_json(&self) -> String {
        match self {
            ClientMessage::Event(event) => format!("[\"EVENT\",{}]", event.to_json()),
            ClientMessage::Req { subscription_id, filters } => {
                let mut out = format!("[\"REQ\",{}", json_str(subscription_id));
                for filter in filters {
                    out.push(',');
                    out.push_str(&filter.to_json());
                }
                out.push(']');
                out
            }
            ClientMessage::Close { subscription_id } => {
                format!("[\"CLOSE\",{}]", json_str(subscription_id))
            }
        }
    }
}

impl RelayMessage {
    /// Parses one relay message, NIP-01 grammar: `EVENT` (valid subscription id, event
    /// object — not verified), `OK` (64-hex event id, boolean, string), `EOSE` (subscription
    /// id), `CLOSED` (subscription id, string), `NOTICE` (string), each with exactly that
    /// many elements.
    ///
    /// # Errors
    /// [`MessageError`]: `NotJson`, `NotArray`, `UnknownType` (also for `AUTH`, `COUNT`, …),
    /// `WrongLength`, `BadSubscriptionId`, `BadEvent` or `BadField`.
    pub fn parse(text: &str) -> Result<RelayMessage, MessageError> {
        let (kind, items) = parse_array(text)?;
        match kind.as_str() {
            "EVENT" => {
                expect_len(&items, "EVENT", 3)?;
                let subscription_id = subscription_id(items.get(1))?;
                Ok(RelayMessage::Event { subscription_id, event: event(items.get(2))? })
            }
            "OK" => {
                expect_len(&items, "OK", 4)?;
                let event_id = match items.get(1) {
                    Some(Value::String(id)) if is_lower_hex(id, 64) => id.clone(),
                    _ => {
                        return Err(MessageError::BadField {
                            message_type: "OK",
                            detail: "event id must be 64 lowercase hex",
                        })
                    }
                };
                let Some(Value::Bool(accepted)) = items.get(2) else {
                    return Err(MessageError::BadField { message_type: "OK", detail: "accepted must be a boolean" });
                };
                let message = string_field(items.get(3), "OK", "message must be a string")?;
                Ok(RelayMessage::Ok { event_id, accepted: *accepted, message })
            }
            "EOSE" => {
                expect_len(&items, "EOSE", 2)?;
                Ok(RelayMessage::Eose { subscription_id: subscription_id(items.get(1))? })
            }
            "CLOSED" => {
                expect_len(&items, "CLOSED", 3)?;
                let subscription_id = subscription_id(items.get(1))?;
                let message = string_field(items.get(2), "CLOSED", "message must be a string")?;
                Ok(RelayMessage::Closed { subscription_id, message })
            }
            "NOTICE" => {
                expect_len(&items, "NOTICE", 2)?;
                Ok(RelayMessage::Notice { message: string_field(items.get(1), "NOTICE", "message must be a string")? })
            }
            other => Err(unknown_type(other)),
        }
    }

    /// The compact NIP-01 JSON array, e.g. `["OK","<id>",false,"invalid: bad signature"]`.
    /// Events keep their field order (see [`Event::to_json`]).
    pub fn to_json(&self) -> String {
        match self {
            RelayMessage::Event { subscription_id, event } => {
                format!("[\"EVENT\",{},{}]", json_str(subscription_id), event.to_json())
            }
            RelayMessage::Ok { event_id, accepted, message } => {
                format!("[\"OK\",{},{},{}]", json_str(event_id), accepted, json_str(message))
            }
            RelayMessage::Eose { subscription_id } => {
                format!("[\"EOSE\",{}]", json_str(subscription_id))
            }
            RelayMessage::Closed { subscription_id, message } => {
                format!("[\"CLOSED\",{},{}]", json_str(subscription_id), json_str(message))
            }
            RelayMessage::Notice { message } => format!("[\"NOTICE\",{}]", json_str(message)),
        }
    }
}
