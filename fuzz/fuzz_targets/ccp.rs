//! CCP route broadcasting messages (ilp.md §6): `RouteControlRequest::decode` and
//! `RouteUpdateRequest::decode`, both run on every input.
//!
//! Properties besides "never panics":
//! - decode → encode → decode gives the same message, and encoding is then a fixed point
//!   (not a prefix of the input: VarUInt counts may carry leading zeros, and the low four bits
//!   of a property's `meta` byte are dropped);
//! - the message wrapped in its peer-protocol Prepare is recognized as control / update and
//!   decodes back from the Prepare's data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::ccp::{control_prepare, is_control, is_update, update_prepare, RouteControlRequest, RouteUpdateRequest};
use protocol::ilp::Prepare;

fuzz_target!(|data: &[u8]| {
    let expiry = "2030-01-01T00:00:00Z".parse().expect("expiry");

    match RouteControlRequest::decode(data) {
        Ok(req) => {
            let encoded = req.encode();
            let again = RouteControlRequest::decode(&encoded).expect("a re-encoded control request decodes");
            assert_eq!(again, req, "control: decode -> encode -> decode changed it");
            assert_eq!(again.encode(), encoded, "control: encoding is not a fixed point");
            let prepare = Prepare::decode(&control_prepare(&req, expiry).encode()).expect("control prepare");
            assert!(is_control(&prepare) && !is_update(&prepare));
            assert_eq!(RouteControlRequest::decode(&prepare.data), Ok(req));
        }
        Err(e) => {
            let _ = (e.to_string(), e.reject_code());
        }
    }

    match RouteUpdateRequest::decode(data) {
        Ok(req) => {
            let encoded = req.encode();
            let again = RouteUpdateRequest::decode(&encoded).expect("a re-encoded update request decodes");
            assert_eq!(again, req, "update: decode -> encode -> decode changed it");
            assert_eq!(again.encode(), encoded, "update: encoding is not a fixed point");
            let prepare = Prepare::decode(&update_prepare(&req, expiry).encode());
            // Updates larger than the ILP data limit do not fit a Prepare; the caller splits them.
            if let Ok(prepare) = prepare {
                assert!(is_update(&prepare) && !is_control(&prepare));
                assert_eq!(RouteUpdateRequest::decode(&prepare.data), Ok(req));
            }
        }
        Err(e) => {
            let _ = (e.to_string(), e.reject_code());
        }
    }
});
