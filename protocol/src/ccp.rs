//! CCP, the connector-to-connector route broadcasting protocol ("Route Broadcasting
//! Protocol", RFC repo draft `0000-route-broadcasting-protocol` at commit `e02a1b7`, PR #455,
//! with `RouteBroadcastingProtocol.asn`; the byte layout that runs in practice is
//! `npm:ilp-protocol-ccp@1.2.3 dist/index.js`, which `ilp-connector@23` bundles). See spec
//! ilp.md §6.
//!
//! Both messages ride in ILP Prepares between direct peers: amount 0, the peer-protocol
//! condition, an expiry the sender picks (JS uses now + 60 s) and the message as `data`:
//!
//! * a [`RouteControlRequest`] to [`CCP_CONTROL_DESTINATION`] asks the peer to start
//!   ([`Mode::Sync`]) or stop ([`Mode::Idle`]) sending route updates;
//! * a [`RouteUpdateRequest`] to [`CCP_UPDATE_DESTINATION`] carries the speaker's routing
//!   table changes for a range of epochs.
//!
//! Success is a Fulfill with 32 zero bytes and empty data ([`ccp_fulfill`]); failure is a
//! Reject whose `triggeredBy` is the node that refused. Decoders ignore trailing bytes
//! ("If any extra data is included, it SHOULD be ignored for compatibility").

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::ilp::{
    Address, AddressError, ErrorCode, Fulfill, Prepare, PEER_PROTOCOL_CONDITION, PEER_PROTOCOL_FULFILLMENT,
};
use crate::oer::{put_var_octets, put_var_str, put_var_uint, OerError, Reader};

/// Destination of route control requests (draft §"Route Control", `CCP_CONTROL_DESTINATION`
/// in ilp-protocol-ccp).
pub const CCP_CONTROL_DESTINATION: &str = "peer.route.control";

/// Destination of route update requests (draft §"Route Update", `CCP_UPDATE_DESTINATION` in
/// ilp-protocol-ccp).
pub const CCP_UPDATE_DESTINATION: &str = "peer.route.update";

/// Property `meta` flag: the property is optional (`RouteBroadcastingProtocol.asn`
/// `Property.meta`, 0x80).
const META_OPTIONAL: u8 = 0x80;
/// Property `meta` flag: the property is transitive (0x40).
const META_TRANSITIVE: u8 = 0x40;
/// Property `meta` flag: the property is partial (0x20).
const META_PARTIAL: u8 = 0x20;
/// Property `meta` flag: the value is UTF-8 text (0x10).
const META_UTF8: u8 = 0x10;

/// Why bytes are not a valid CCP message (draft §"Route Control" / §"Route Update": "If the
/// request cannot be deserialized … the corresponded node responds with an error").
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CcpError {
    /// A field was truncated or its OER encoding is invalid (RFC 30), including a string
    /// that is not UTF-8.
    #[error("invalid CCP message: {0}")]
    Oer(#[from] OerError),
    /// The route control `mode` byte is neither 0 (IDLE) nor 1 (SYNC).
    #[error("unknown CCP route control mode {0}")]
    UnknownMode(u8),
    /// The route update `speaker` is not a valid RFC 15 ILP address.
    #[error("invalid CCP speaker address: {0}")]
    InvalidSpeaker(#[from] AddressError),
}

impl CcpError {
    /// The ILP error code to reject a CCP Prepare with when its data fails to decode: every
    /// variant is a syntax problem, so this is always F01 Invalid Packet (RFC 27). The draft
    /// leaves the code to the implementation.
    pub fn reject_code(&self) -> ErrorCode {
        ErrorCode::F01_INVALID_PACKET
    }
}

/// The state a node asks its peer to be in towards it (draft §"Node Finite State Machine",
/// ASN.1 `SyncMode`; one byte on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Mode {
    /// `0`: the peer sends no route updates.
    Idle = 0,
    /// `1`: the peer sends route updates.
    Sync = 1,
}

impl Mode {
    /// The wire byte: 0 for [`Mode::Idle`], 1 for [`Mode::Sync`].
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for Mode {
    type Error = CcpError;

    /// 0 → [`Mode::Idle`], 1 → [`Mode::Sync`], anything else is [`CcpError::UnknownMode`].
    fn try_from(b: u8) -> Result<Self, Self::Error> {
        match b {
            0 => Ok(Mode::Idle),
            1 => Ok(Mode::Sync),
            other => Err(CcpError::UnknownMode(other)),
        }
    }
}

/// A route control request, the `data` of a Prepare to [`CCP_CONTROL_DESTINATION`]
/// (draft §"Route Control", ASN.1 `RouteControlRequestData`).
///
/// Wire form: `mode u8 | lastKnownRoutingTableId 16 bytes | lastKnownEpoch u32 (big-endian) |
/// features: VarUInt count, then each a var-octet UTF-8 string`. A first request carries the
/// all-zero table id and epoch 0 (ilp.md §6 capture: `01` + 16×`00` + `00000000` + `0100`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteControlRequest {
    /// The state asked of the receiver.
    pub mode: Mode,
    /// Id (a UUID v4 as 16 raw bytes) of the receiver's routing table the requester last
    /// heard of; all zeros when it knows none.
    pub last_known_routing_table_id: [u8; 16],
    /// The receiver's epoch index the requester already has: updates should start there.
    pub last_known_epoch: u32,
    /// Feature names; reserved, empty in every known implementation.
    pub features: Vec<String>,
}

impl RouteControlRequest {
    /// Serializes the Prepare-data form (byte for byte what ilp-protocol-ccp 1.2.3
    /// `serializeCcpRouteControlRequestPayload` writes).
    pub fn encode(&self) -> Vec<u8> {
        let features_len: usize = self.features.iter().map(|f| f.len() + 3).sum();
        let mut out = Vec::with_capacity(1 + 16 + 4 + 9 + features_len);
        out.push(self.mode.as_u8());
        out.extend_from_slice(&self.last_known_routing_table_id);
        out.extend_from_slice(&self.last_known_epoch.to_be_bytes());
        put_var_uint(&mut out, self.features.len() as u64);
        for feature in &self.features {
            put_var_str(&mut out, feature);
        }
        out
    }

    /// Parses the Prepare-data form; trailing bytes are ignored. An unknown mode byte is
    /// [`CcpError::UnknownMode`], a non-UTF-8 feature is [`OerError::InvalidUtf8`].
    pub fn decode(bytes: &[u8]) -> Result<Self, CcpError> {
        let mut r = Reader::new(bytes);
        let mode = Mode::try_from(r.read_u8()?)?;
        let last_known_routing_table_id = r.read_fixed()?;
        let last_known_epoch = r.read_u32()?;
        let count = r.read_var_uint()?;
        let mut features = Vec::new();
        // Every item consumes at least one byte, so a huge count ends in UnexpectedEnd
        // after at most `bytes.len()` rounds.
        for _ in 0..count {
            features.push(r.read_var_str()?.to_owned());
        }
        Ok(RouteControlRequest { mode, last_known_routing_table_id, last_known_epoch, features })
    }
}

/// One route property (ASN.1 `Property`: `meta u8 | id u16 | value var-octets`). Reserved by
/// the draft; ilp-connector sends none.
///
/// `meta` packs the flags: 0x80 optional, 0x40 transitive, 0x20 partial, 0x10 UTF-8; the low
/// four bits are ignored on decode and written as 0. [`Route`] encoding writes the flags as
/// given. (The JS serializer instead normalizes them: a non-optional property is always
/// written transitive, and partial is kept only when optional and transitive. Set the flags
/// that way to match it byte for byte.)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteProp {
    /// Flag 0x80.
    pub is_optional: bool,
    /// Flag 0x40.
    pub is_transitive: bool,
    /// Flag 0x20.
    pub is_partial: bool,
    /// Property id (big-endian u16 on the wire).
    pub id: u16,
    /// Flag 0x10: `value` is meant as UTF-8 text. Not checked on decode.
    pub is_utf8: bool,
    /// The value bytes.
    pub value: Vec<u8>,
}

impl RouteProp {
    /// The `meta` byte for these flags.
    fn meta(&self) -> u8 {
        let mut meta = 0;
        if self.is_optional {
            meta |= META_OPTIONAL;
        }
        if self.is_transitive {
            meta |= META_TRANSITIVE;
        }
        if self.is_partial {
            meta |= META_PARTIAL;
        }
        if self.is_utf8 {
            meta |= META_UTF8;
        }
        meta
    }

    fn put(&self, out: &mut Vec<u8>) {
        out.push(self.meta());
        out.extend_from_slice(&self.id.to_be_bytes());
        put_var_octets(out, &self.value);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, CcpError> {
        let meta = r.read_u8()?;
        let id = r.read_u16()?;
        let value = r.read_var_octets()?.to_vec();
        Ok(RouteProp {
            is_optional: meta & META_OPTIONAL != 0,
            is_transitive: meta & META_TRANSITIVE != 0,
            is_partial: meta & META_PARTIAL != 0,
            id,
            is_utf8: meta & META_UTF8 != 0,
            value,
        })
    }
}

/// One advertised route (ASN.1 `NewRoute`): `prefix var-string | path: VarUInt count ×
/// var-string | auth 32 bytes | props: VarUInt count × RouteProp`.
///
/// `prefix` and the `path` hops are kept as text, not validated as [`Address`]es: the
/// routing layer decides which prefixes it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    /// The ILP address prefix this route reaches, e.g. `"test.b"`.
    pub prefix: String,
    /// The ILP addresses of the hops a packet takes, nearest first; ilp-connector puts its
    /// own address first.
    pub path: Vec<String>,
    /// Route authentication, 32 bytes; "reserved for the future" in the draft. ilp-connector
    /// derives it from HMAC-SHA256(its random routing secret, prefix); treat it as opaque.
    pub auth: [u8; 32],
    /// Route properties; reserved, empty from ilp-connector.
    pub props: Vec<RouteProp>,
}

impl Route {
    fn put(&self, out: &mut Vec<u8>) {
        put_var_str(out, &self.prefix);
        put_var_uint(out, self.path.len() as u64);
        for hop in &self.path {
            put_var_str(out, hop);
        }
        out.extend_from_slice(&self.auth);
        put_var_uint(out, self.props.len() as u64);
        for prop in &self.props {
            prop.put(out);
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, CcpError> {
        let prefix = r.read_var_str()?.to_owned();
        let path_len = r.read_var_uint()?;
        let mut path = Vec::new();
        for _ in 0..path_len {
            path.push(r.read_var_str()?.to_owned());
        }
        let auth = r.read_fixed()?;
        let prop_count = r.read_var_uint()?;
        let mut props = Vec::new();
        for _ in 0..prop_count {
            props.push(RouteProp::read(r)?);
        }
        Ok(Route { prefix, path, auth, props })
    }
}

/// A route update request, the `data` of a Prepare to [`CCP_UPDATE_DESTINATION`] (draft
/// §"Route Update", ASN.1 `RouteUpdateRequestData`).
///
/// Wire form: `routingTableId 16 bytes | currentEpochIndex u32 | fromEpochIndex u32 |
/// toEpochIndex u32 | holdDownTime u32 | speaker var-string | newRoutes: VarUInt count ×
/// Route | withdrawnRoutes: VarUInt count × var-string` (integers big-endian).
///
/// The update carries the speaker's table log entries `from_epoch_index ..
/// to_epoch_index` (the entry at `to_epoch_index` itself is not included).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteUpdateRequest {
    /// Id of the speaker's routing table (a UUID v4 as 16 raw bytes). When it changes, the
    /// receiver must drop what it learnt from the old table.
    pub routing_table_id: [u8; 16],
    /// The speaker's current epoch index (revision number of its table).
    pub current_epoch_index: u32,
    /// First epoch index covered by this update (inclusive).
    pub from_epoch_index: u32,
    /// Epoch index the update ends at (exclusive).
    pub to_epoch_index: u32,
    /// How long, in **milliseconds**, the receiver may keep these routes without hearing
    /// from the speaker again (ilp-connector sends its route expiry, 45000 by default).
    pub hold_down_time: u32,
    /// ILP address of the node sending the update.
    pub speaker: Address,
    /// Routes added or changed in the covered epochs.
    pub new_routes: Vec<Route>,
    /// Prefixes no longer reachable through the speaker.
    pub withdrawn_routes: Vec<String>,
}

impl RouteUpdateRequest {
    /// Serializes the Prepare-data form (byte for byte what ilp-protocol-ccp 1.2.3
    /// `serializeCcpRouteUpdateRequestPayload` writes, given JS-normalized
    /// [`RouteProp`] flags). The caller keeps the result within the ILP data limit
    /// ([`crate::ilp::MAX_DATA_LEN`], 32767 bytes) by splitting large updates over epochs.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.new_routes.len() * 64 + self.withdrawn_routes.len() * 24);
        out.extend_from_slice(&self.routing_table_id);
        out.extend_from_slice(&self.current_epoch_index.to_be_bytes());
        out.extend_from_slice(&self.from_epoch_index.to_be_bytes());
        out.extend_from_slice(&self.to_epoch_index.to_be_bytes());
        out.extend_from_slice(&self.hold_down_time.to_be_bytes());
        put_var_str(&mut out, self.speaker.as_str());
        put_var_uint(&mut out, self.new_routes.len() as u64);
        for route in &self.new_routes {
            route.put(&mut out);
        }
        put_var_uint(&mut out, self.withdrawn_routes.len() as u64);
        for prefix in &self.withdrawn_routes {
            put_var_str(&mut out, prefix);
        }
        out
    }

    /// Parses the Prepare-data form; trailing bytes are ignored. Strings must be UTF-8 and
    /// the speaker a valid ILP address ([`CcpError::InvalidSpeaker`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, CcpError> {
        let mut r = Reader::new(bytes);
        let routing_table_id = r.read_fixed()?;
        let current_epoch_index = r.read_u32()?;
        let from_epoch_index = r.read_u32()?;
        let to_epoch_index = r.read_u32()?;
        let hold_down_time = r.read_u32()?;
        let speaker = Address::new(r.read_var_str()?)?;
        // Every list item consumes at least one byte, so a huge count ends in
        // UnexpectedEnd after at most `bytes.len()` rounds.
        let route_count = r.read_var_uint()?;
        let mut new_routes = Vec::new();
        for _ in 0..route_count {
            new_routes.push(Route::read(&mut r)?);
        }
        let withdrawn_count = r.read_var_uint()?;
        let mut withdrawn_routes = Vec::new();
        for _ in 0..withdrawn_count {
            withdrawn_routes.push(r.read_var_str()?.to_owned());
        }
        Ok(RouteUpdateRequest {
            routing_table_id,
            current_epoch_index,
            from_epoch_index,
            to_epoch_index,
            hold_down_time,
            speaker,
            new_routes,
            withdrawn_routes,
        })
    }
}

/// The Prepare carrying a route control request: amount 0, `expires_at` (JS uses now +
/// 60 s), the peer-protocol condition, destination `peer.route.control`, `req` encoded as
/// data (draft §"Route Control" / §"Packet").
pub fn control_prepare(req: &RouteControlRequest, expires_at: DateTime<Utc>) -> Prepare {
    Prepare {
        amount: 0,
        expires_at,
        execution_condition: PEER_PROTOCOL_CONDITION,
        destination: Address::from_static_unchecked(CCP_CONTROL_DESTINATION),
        data: req.encode(),
    }
}

/// The Prepare carrying a route update request: amount 0, `expires_at` (JS uses now +
/// 60 s), the peer-protocol condition, destination `peer.route.update`, `req` encoded as
/// data (draft §"Route Update" / §"Packet").
pub fn update_prepare(req: &RouteUpdateRequest, expires_at: DateTime<Utc>) -> Prepare {
    Prepare {
        amount: 0,
        expires_at,
        execution_condition: PEER_PROTOCOL_CONDITION,
        destination: Address::from_static_unchecked(CCP_UPDATE_DESTINATION),
        data: req.encode(),
    }
}

/// The Fulfill accepting either CCP request: 32 zero bytes and empty data (draft
/// §"Route Control" / §"Route Update", Response). Encodes as `0d21` + 33×`00`.
pub fn ccp_fulfill() -> Fulfill {
    Fulfill { fulfillment: PEER_PROTOCOL_FULFILLMENT, data: Vec::new() }
}

/// True when `prepare` is addressed to `peer.route.control`. Only the destination is
/// checked; the condition, amount and expiry are the caller's business.
pub fn is_control(prepare: &Prepare) -> bool {
    prepare.destination.as_str() == CCP_CONTROL_DESTINATION
}

/// True when `prepare` is addressed to `peer.route.update`. Only the destination is checked;
/// the condition, amount and expiry are the caller's business.
pub fn is_update(prepare: &Prepare) -> bool {
    prepare.destination.as_str() == CCP_UPDATE_DESTINATION
}
