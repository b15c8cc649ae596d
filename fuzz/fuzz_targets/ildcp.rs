//! IL-DCP response decoding (RFC 31).
//!
//! Properties besides "never panics": decode → encode → decode is the identity, and the
//! re-encoding is exactly the prefix of the input that was read (canonical OER, trailing bytes
//! ignored).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::ildcp::IldcpResponse;

fuzz_target!(|data: &[u8]| {
    let Ok(resp) = IldcpResponse::decode(data) else { return };
    let encoded = resp.encode();
    assert!(data.starts_with(&encoded), "re-encoding is not a prefix of the input");
    assert_eq!(IldcpResponse::decode(&encoded), Ok(resp));
});
