//! What every TCP listener of the node shares: connection caps (global and per IP), an accept
//! loop that backs off on errors (fd exhaustion must not spin), TCP_NODELAY, rate-limited logs,
//! and the HTTP server (hyper, with a header read timeout) under the relay and the API.
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::limits::ListenerLimits;

/// First pause after a failed `accept`; it doubles on each further failure.
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// Longest pause between failed `accept`s.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Why a connection was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The listener holds `max` connections already.
    #[error("{max} connections open on this listener")]
    Global {
        /// The cap.
        max: usize,
    },
    /// The remote IP holds `max` connections already.
    #[error("{max} connections open from this IP")]
    PerIp {
        /// The cap.
        max: usize,
    },
}

/// Counts the open connections of one listener, globally and per IP.
#[derive(Debug)]
pub struct ConnLimiter {
    limits: ListenerLimits,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct ConnGuard {
    limiter: Arc<ConnLimiter>,
    ip: Option<IpAddr>,
}

impl ConnLimiter {
    /// A limiter enforcing `limits`.
    pub fn new(limits: ListenerLimits) -> Arc<Self> {
        Arc::new(Self { limits, open: Mutex::default() })
    }

    /// Admit a connection from `ip`, or say which cap it hits.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnGuard, Refusal> {
        let ip = ip.to_canonical();
        let mut open = self.open.lock().expect("poisoned");
        if open.total >= self.limits.max_connections {
            return Err(Refusal::Global { max: self.limits.max_connections });
        }
        let counted = !(self.limits.exempt_loopback && ip.is_loopback());
        if counted {
            let n = open.per_ip.entry(ip).or_default();
            if *n >= self.limits.max_connections_per_ip {
                if *n == 0 {
                    open.per_ip.remove(&ip);
                }
                return Err(Refusal::PerIp { max: self.limits.max_connections_per_ip });
            }
            *n += 1;
        }
        open.total += 1;
        Ok(ConnGuard { limiter: self.clone(), ip: counted.then_some(ip) })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().expect("poisoned").total
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut open = self.limiter.open.lock().expect("poisoned");
        open.total -= 1;
        if let Some(ip) = self.ip {
            if let Some(n) = open.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    open.per_ip.remove(&ip);
                }
            }
        }
    }
}

/// Lets a repeated log line through at most once per `every`, counting what it held back.
#[derive(Debug)]
pub struct LogThrottle {
    every: Duration,
    last: Mutex<Option<tokio::time::Instant>>,
    suppressed: AtomicU64,
}

impl LogThrottle {
    /// At most one line per `every`.
    pub fn new(every: Duration) -> Self {
        Self { every, last: Mutex::new(None), suppressed: AtomicU64::new(0) }
    }

    /// `Some(n)`: log now, `n` lines were held back since the last one. `None`: stay quiet.
    pub fn allow(&self) -> Option<u64> {
        let now = tokio::time::Instant::now();
        let mut last = self.last.lock().expect("poisoned");
        if last.is_some_and(|t| now.duration_since(t) < self.every) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *last = Some(now);
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

/// Accept connections until `stop` turns true: each admitted one goes to `handle` with its
/// guard; one over a cap is closed at once. A failed `accept` (EMFILE, ENFILE, ENOBUFS…) is
/// retried after a pause of [`ACCEPT_BACKOFF_MIN`] doubling to [`ACCEPT_BACKOFF_MAX`], reset by
/// the next success; refusals and errors are logged at most once a second.
pub async fn accept_loop<C, A, Fut, H>(
    name: &'static str,
    mut accept: A,
    limiter: Arc<ConnLimiter>,
    mut stop: watch::Receiver<bool>,
    mut handle: H,
) where
    A: FnMut() -> Fut,
    Fut: Future<Output = io::Result<(C, SocketAddr)>>,
    H: FnMut(C, SocketAddr, ConnGuard),
{
    let refused_log = LogThrottle::new(Duration::from_secs(1));
    let error_log = LogThrottle::new(Duration::from_secs(1));
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        if *stop.borrow() {
            return;
        }
        let accepted = tokio::select! {
            biased;
            _ = stop.changed() => return,
            a = accept() => a,
        };
        match accepted {
            Ok((conn, remote)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                match limiter.admit(remote.ip()) {
                    Ok(guard) => handle(conn, remote, guard),
                    Err(why) => {
                        drop(conn);
                        if let Some(held) = refused_log.allow() {
                            tracing::warn!(listener = name, %remote, %why, held_back = held, "connection refused");
                        }
                    }
                }
            }
            Err(e) => {
                if let Some(held) = error_log.allow() {
                    tracing::warn!(listener = name, error = %e, retry_in = ?backoff, held_back = held, "accept failed");
                }
                tokio::select! {
                    biased;
                    _ = stop.changed() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
}

/// Accept on a bound TCP listener: [`accept_loop`] with TCP_NODELAY set on every socket (a
/// Nagle stall costs ~40 ms per small reply).
pub async fn accept_tcp<H>(
    name: &'static str,
    listener: tokio::net::TcpListener,
    limiter: Arc<ConnLimiter>,
    stop: watch::Receiver<bool>,
    mut handle: H,
) where
    H: FnMut(TcpStream, SocketAddr, ConnGuard),
{
    let listener = Arc::new(listener);
    accept_loop(
        name,
        move || {
            let l = listener.clone();
            async move { l.accept().await }
        },
        limiter,
        stop,
        move |tcp: TcpStream, remote, guard| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
            (handle)(tcp, remote, guard)
        },
    )
    .await
}

/// Serve `app` over HTTP/1.1 (with upgrades: the relay's WebSocket) on `listener` until
/// `stop`, with the connection caps of `limits` and a header read timeout of `head_timeout`:
/// a connection that sends nothing, half a request head, or idles between keep-alive requests
/// longer than that is closed. Each request carries `axum::extract::ConnectInfo<SocketAddr>`
/// and the connection's `Arc<ConnGuard>`: a handler that takes the connection over (a
/// WebSocket upgrade) keeps a clone so the connection stays counted while it lives.
pub fn serve_http(
    name: &'static str,
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ListenerLimits,
    head_timeout: Duration,
    stop: watch::Receiver<bool>,
) -> Arc<ConnLimiter> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let limiter = ConnLimiter::new(limits);
    let conn_stop = stop.clone();
    tokio::spawn(accept_tcp(name, listener, limiter.clone(), stop, move |tcp, remote, guard| {
        let app = app.clone();
        let mut stop = conn_stop.clone();
        let guard = Arc::new(guard);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(axum::extract::ConnectInfo(remote));
                req.extensions_mut().insert(guard.clone());
                app.clone().oneshot(req)
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(head_timeout);
            let conn = builder.serve_connection(TokioIo::new(tcp), service).with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => if let Err(e) = r { tracing::debug!(listener = name, %remote, error = %e, "HTTP connection ended") },
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }));
    limiter
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(global: usize, per_ip: usize, exempt_loopback: bool) -> ListenerLimits {
        ListenerLimits { max_connections: global, max_connections_per_ip: per_ip, exempt_loopback }
    }

    #[test]
    fn per_ip_and_global_caps_refuse_and_dropping_a_guard_frees_its_place() {
        let l = ConnLimiter::new(limits(3, 2, false));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let g1 = l.admit(a).unwrap();
        let _g2 = l.admit(a).unwrap();
        assert_eq!(l.admit(a).unwrap_err(), Refusal::PerIp { max: 2 });
        let _g3 = l.admit(b).unwrap();
        assert_eq!(l.admit(b).unwrap_err(), Refusal::Global { max: 3 });
        drop(g1);
        let _g4 = l.admit(a).unwrap();
        assert_eq!(l.open(), 3);
    }

    #[test]
    fn loopback_is_exempt_from_the_per_ip_cap_only() {
        let l = ConnLimiter::new(limits(3, 1, true));
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let lo6: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let guards: Vec<_> = (0..3).map(|i| l.admit(if i % 2 == 0 { lo } else { lo6 }).unwrap()).collect();
        assert_eq!(l.admit(lo).unwrap_err(), Refusal::Global { max: 3 });
        drop(guards);
        assert_eq!(l.open(), 0);
    }

    /// A listener whose every accept fails (EMFILE): the loop pauses, doubling to 1 s, instead
    /// of spinning. Without the backoff it calls accept 1 000 times in no time at all.
    #[tokio::test(start_paused = true)]
    async fn accept_errors_back_off_instead_of_spinning() {
        let (stop_tx, stop) = watch::channel(false);
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        let started = tokio::time::Instant::now();
        let run = accept_loop::<(), _, _, _>(
            "test",
            move || {
                let n = c.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= 1_000 {
                    let _ = stop_tx.send(true);
                }
                async { Err(io::Error::from_raw_os_error(24)) } // EMFILE
            },
            ConnLimiter::new(limits(10, 10, false)),
            stop,
            |_, _, _| {},
        );
        let _ = tokio::time::timeout(Duration::from_secs(10), run).await;
        let n = calls.load(Ordering::Relaxed);
        // 10 ms, 20, 40, …, 640, then 1 s each: 7 pauses to reach the cap, then one a second.
        assert!(n <= 20, "{n} accept calls in {:?} of (paused) time", started.elapsed());
        assert!(n >= 10, "{n}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_log_throttle_lets_one_line_a_second_through_and_counts_the_rest() {
        let t = LogThrottle::new(Duration::from_secs(1));
        assert_eq!(t.allow(), Some(0));
        assert_eq!(t.allow(), None);
        assert_eq!(t.allow(), None);
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert_eq!(t.allow(), Some(2));
    }
}
