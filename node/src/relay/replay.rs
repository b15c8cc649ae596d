//! A REQ's stored matches, fetched in pages so that a large replay never sits in memory whole.
//!
//! Each filter is read newest first (`created_at` DESC, `id` ASC, as storage sorts), in pages
//! of about [`PAGE_BYTES`]: the next page ends where the previous one did (`until` = its oldest
//! `created_at`, the events already sent at that second skipped). When more matches than a page
//! share one second, that second is read whole (at most [`storage::MAX_QUERY_EVENTS`]) and the
//! next page starts below it. A filter's `limit` is the newest `limit` (NIP-01); at most
//! `MAX_QUERY_EVENTS` events are sent per REQ, as before. Pages go to the session over its
//! bounded channel: the task waits while the session (paused by a slow client) takes none, so
//! a REQ holds at most the page in hand. Filters are replayed one after the other; the session
//! drops what an earlier filter already sent.
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use protocol::nostr::{Event, Filter};
use tokio::sync::mpsc;

use crate::node::Node;

/// Target size of one page, bytes of event JSON.
pub const PAGE_BYTES: usize = 1024 * 1024;
/// Events in the first page of a filter (later pages are sized from the events seen).
const FIRST_PAGE: usize = 16;
/// Fewest and most events per page.
const PAGE_EVENTS: std::ops::RangeInclusive<usize> = 16..=1000;

/// What a replay task hands its session.
pub enum Page {
    /// Stored matches, newest first within a filter.
    Events(Vec<Event>),
    /// All stored matches were sent: EOSE next.
    Done,
    /// The store could not be read; the message is for the log.
    Failed(String),
}

/// A page for the subscription `sub_id` of the REQ numbered `generation`.
pub struct Ready {
    /// The subscription id of the REQ.
    pub sub_id: String,
    /// Which REQ under that id (a replaced REQ's pages are dropped).
    pub generation: u64,
    /// The page.
    pub page: Page,
}

/// Wait (bounded) for the paid upstream subscriptions `filters` name to sync, then send the
/// stored matches page by page to `out`, then [`Page::Done`]. Returns early when `out` closes.
pub async fn run(node: Arc<Node>, filters: Vec<Filter>, sub_id: String, generation: u64, out: mpsc::Sender<Ready>) {
    let upstream = crate::btpnips::upstream_for(&node, &filters);
    let wait = Duration::from_secs(node.config.upstream_eose_timeout_secs);
    let _ = tokio::time::timeout(wait, async {
        for mut rx in upstream {
            let _ = rx.wait_for(|synced| *synced).await;
        }
    })
    .await;
    let send = |page: Page| out.send(Ready { sub_id: sub_id.clone(), generation, page });
    let page = match pages(&node, &filters, |events| send(Page::Events(events))).await {
        Ok(()) => Page::Done,
        Err(Stop::Failed(e)) => Page::Failed(e),
        Err(Stop::Gone) => return,
    };
    let _ = send(page).await;
}

enum Stop {
    Failed(String),
    Gone,
}

async fn pages<F, Fut, E>(node: &Node, filters: &[Filter], mut emit: F) -> Result<(), Stop>
where
    F: FnMut(Vec<Event>) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    let max_total = storage::MAX_QUERY_EVENTS;
    let mut total = 0usize;
    let mut page_events = FIRST_PAGE;
    let query =
        |f: Filter| async move { node.storage.query_events(&[f]).await.map_err(|e| Stop::Failed(e.to_string())) };
    for f in filters {
        let mut want = f.limit.unwrap_or(max_total).min(max_total - total);
        let mut until = f.until;
        // Ids already sent at the second `until` (the previous page's oldest).
        let mut boundary: HashSet<String> = HashSet::new();
        while want > 0 {
            let n = page_events.min(want);
            let events = query(Filter { until, limit: Some(n), ..f.clone() }).await?;
            let full = events.len() >= n;
            let Some(oldest) = events.iter().map(|e| e.created_at).min() else { break };
            let mut fresh: Vec<Event> = events.into_iter().filter(|e| !boundary.contains(&e.id)).collect();
            let stalled = fresh.is_empty() && full;
            if stalled {
                // More than a page within the second `oldest`: take that second whole.
                tracing::debug!(second = oldest, page = n, "replay: a second holds more than a page; reading it whole");
                let second = Filter { since: Some(oldest), until: Some(oldest), limit: Some(max_total), ..f.clone() };
                fresh = query(second).await?.into_iter().filter(|e| !boundary.contains(&e.id)).collect();
                fresh.truncate(want);
                boundary.clear();
            } else {
                if until != Some(oldest) {
                    boundary.clear(); // a new oldest second: the old boundary is behind us
                }
                boundary.extend(fresh.iter().filter(|e| e.created_at == oldest).map(|e| e.id.clone()));
            }
            if !fresh.is_empty() {
                let bytes: usize = fresh.iter().map(|e| e.content.len() + 256).sum();
                page_events = (PAGE_BYTES * fresh.len() / bytes.max(1)).clamp(*PAGE_EVENTS.start(), *PAGE_EVENTS.end());
                want -= fresh.len();
                total += fresh.len();
                emit(fresh).await.map_err(|_| Stop::Gone)?;
            }
            until = match (stalled, full) {
                (true, _) => match oldest.checked_sub(1) {
                    Some(below) => Some(below),
                    None => break,
                },
                (false, true) => Some(oldest),
                (false, false) => break, // the last page of this filter
            };
        }
        if total >= max_total {
            break;
        }
    }
    Ok(())
}
