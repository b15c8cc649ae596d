//! The btpnips node: a NIP-01 relay for its owner, an ILP connector and STREAM endpoint for
//! its peers, and the BTP-NIPs subscription logic that joins the two.
//!
//! Start reading at [`node::Node::start`]; ARCHITECTURE.md has the map.
pub mod announce;
pub mod api;
pub mod btpnips;
pub mod clock;
pub mod config;
pub mod connector;
pub mod data_dir;
pub mod follows;
pub mod http_client;
pub mod ingest;
pub mod keys;
pub mod limits;
pub mod link;
pub mod listen;
pub mod node;
pub mod relay;
pub mod settlement;
pub mod spsp;
pub mod status;
pub mod stream;
