//! RFC 6455 §7.4.1 close codes for what a relay client did wrong on the WebSocket itself.
use axum_tungstenite::error::{CapacityError, Error as WsError};

/// A WebSocket-level fault of the client, and the close code that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A message or frame over the size limit: 1009 (Message Too Big).
    TooBig,
    /// A text message that is not UTF-8: 1007 (Invalid frame payload data).
    BadUtf8,
    /// Bad framing (reserved bits, unmasked frames, bad opcodes, fragmented control frames…):
    /// 1002 (Protocol error).
    Protocol,
}

impl Fault {
    /// What axum's WebSocket read error `e` says the client did, if it did something wrong
    /// (rather than the connection failing).
    pub fn of(e: axum::Error) -> Option<Fault> {
        let inner = e.into_inner();
        match inner.downcast_ref::<WsError>()? {
            WsError::Capacity(CapacityError::MessageTooLong { .. }) => Some(Fault::TooBig),
            WsError::Utf8(_) => Some(Fault::BadUtf8),
            WsError::Protocol(_) => Some(Fault::Protocol),
            _ => None,
        }
    }

    /// RFC 6455 §7.4.1 status code.
    pub fn code(self) -> u16 {
        match self {
            Fault::TooBig => 1009,
            Fault::BadUtf8 => 1007,
            Fault::Protocol => 1002,
        }
    }

    /// Close reason sent with the code.
    pub fn reason(self) -> &'static str {
        match self {
            Fault::TooBig => "message too big",
            Fault::BadUtf8 => "text message is not UTF-8",
            Fault::Protocol => "WebSocket protocol error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum_tungstenite::error::ProtocolError;

    #[test]
    fn each_fault_gets_its_code_and_io_errors_none() {
        let too_big = WsError::Capacity(CapacityError::MessageTooLong { size: 2, max_size: 1 });
        assert_eq!(Fault::of(axum::Error::new(too_big)).map(Fault::code), Some(1009));
        assert_eq!(Fault::of(axum::Error::new(WsError::Utf8("x".into()))).map(Fault::code), Some(1007));
        let bad = WsError::Protocol(ProtocolError::NonZeroReservedBits);
        assert_eq!(Fault::of(axum::Error::new(bad)).map(Fault::code), Some(1002));
        assert_eq!(Fault::of(axum::Error::new(WsError::ConnectionClosed)), None);
    }
}
