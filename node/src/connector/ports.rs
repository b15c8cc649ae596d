//! The connector steps' ports, implemented for the running [`Node`]: the only place in the
//! connector chain that holds an `Arc<Node>`. Each impl is a plain delegation.
use std::sync::Arc;
use std::time::Duration;

use protocol::ilp::{Address, Prepare};
use storage::{Op, OpOutcome, StorageError};

use super::balance::Ledger;
use super::credit::CreditStanding;
use super::forward::Links;
use super::peer_protocol::PeerProtocols;
use super::route::{LocalEndpoint, Routes};
use super::service::IlpResult;
use super::validate::PacketLimits;
use super::Source;
use crate::config::Relation;
use crate::link::LinkError;
use crate::node::Node;

/// Every connector port, backed by the node's configuration, routing table, links, storage
/// and STREAM endpoint. Cheap to clone.
#[derive(Clone)]
pub struct NodePorts {
    node: Arc<Node>,
}

impl NodePorts {
    /// The ports of `node`.
    pub fn new(node: &Arc<Node>) -> Self {
        Self { node: node.clone() }
    }
}

impl PacketLimits for NodePorts {
    fn max_packet_amount(&self, account: &str) -> Option<u64> {
        self.node.config.account(account).and_then(|a| a.max_packet_amount)
    }
}

impl PeerProtocols for NodePorts {
    fn is_child(&self, account: &str) -> bool {
        self.node.config.account(account).is_some_and(|a| a.relation == Relation::Child)
    }

    fn route_broadcast(&self, account: &str, prepare: &Prepare) -> IlpResult {
        super::ccp::handle(&self.node, account, prepare)
    }
}

impl Routes for NodePorts {
    fn resolve(&self, destination: &Address) -> Option<(String, String)> {
        self.node.routes.resolve_with_prefix(destination)
    }

    fn local_prefix(&self, destination: &Address) -> Option<Address> {
        self.node.local_prefix(destination)
    }
}

impl LocalEndpoint for NodePorts {
    async fn receive(&self, from: Source, prepare: Prepare, local: Address) -> IlpResult {
        crate::stream::receive(&self.node, from, prepare, &local).await
    }
}

impl CreditStanding for NodePorts {
    async fn balance(&self, account: &str) -> Result<i64, StorageError> {
        Ok(self.node.storage.account(account).await?.map(|a| a.balance).unwrap_or(0))
    }

    fn credit_limit(&self, account: &str) -> u64 {
        self.node.config.credit_limit(account)
    }
}

impl Links for NodePorts {
    fn is_up(&self, account: &str) -> bool {
        self.node.links.get(account).is_some()
    }

    async fn send_prepare(&self, account: &str, prepare: Prepare, wait: Duration) -> Result<IlpResult, LinkError> {
        let Some(link) = self.node.links.get(account) else {
            return Err(LinkError::Closed);
        };
        link.send_prepare(prepare, wait).await
    }
}

impl Ledger for NodePorts {
    async fn commit(&self, ops: Vec<Op>) -> Result<Vec<OpOutcome>, StorageError> {
        self.node.storage.writer().submit(ops).await
    }
}
