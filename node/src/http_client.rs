//! A small HTTP/1.1 client (hyper) for what the node fetches itself: SPSP receivers and the
//! CLI's calls to the operator API. Plain `http://` only (loopback and test setups).
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;

/// A response: status code and body bytes.
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The whole body.
    pub body: Vec<u8>,
}

/// Send `method url` with `headers` and `body`, and read the whole response.
///
/// Errors: a URL that is not `http://host:port/path`, a connection or protocol failure.
pub async fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> anyhow::Result<Response> {
    let uri: hyper::Uri = url.parse()?;
    anyhow::ensure!(uri.scheme_str() == Some("http"), "{url}: only http:// URLs are supported");
    let host = uri.host().ok_or_else(|| anyhow::anyhow!("{url}: no host"))?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)).await?;
    tcp.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut req = Request::builder().method(method).uri(path).header("Host", format!("{host}:{port}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = sender.send_request(req.body(Full::new(Bytes::from(body)))?).await?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await?.to_bytes().to_vec();
    Ok(Response { status, body })
}
