//! The node's only clock reads. `protocol` never reads a clock; the node passes these in.
use chrono::{DateTime, Utc};

/// Now, as a UTC timestamp (millisecond precision is what ILP expiries carry).
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Now, in unix seconds.
pub fn now_secs() -> u64 {
    Utc::now().timestamp().max(0) as u64
}
