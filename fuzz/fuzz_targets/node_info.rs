//! BTP-NIPs node info (docs/btp-nips.md §1): `NodeInfo::from_json_bytes`.
//!
//! Properties besides "never panics": a node info that parses has version 1, a valid ILP
//! address, and survives to_json_bytes → from_json_bytes unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::btpnips::info::NodeInfo;
use protocol::ilp::Address;

fuzz_target!(|data: &[u8]| {
    let info = match NodeInfo::from_json_bytes(data) {
        Ok(i) => i,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(info.version, protocol::btpnips::VERSION);
    assert!(Address::new(&info.ilp_address).is_ok());
    let bytes = info.to_json_bytes();
    assert_eq!(NodeInfo::from_json_bytes(&bytes), Ok(info), "node info JSON round trip");
});
