//! HTTP/1.1 to the emulator, one connection per request (its server, Werkzeug, closes every
//! connection after one answer anyway), with the request's header case kept.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// Any error a body can carry.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The one body type requests and answers are passed around as.
pub type Body = BoxBody<Bytes, BoxError>;

/// How long connecting to the emulator may take (it is on loopback: refused at once if down).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A body of bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

/// A streamed body, as received.
pub fn streamed(body: Incoming) -> Body {
    body.map_err(|e| Box::new(e) as BoxError).boxed()
}

/// Why the emulator could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect to the emulator at {addr}: {source}")]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("the emulator at {0} did not accept a connection within {CONNECT_TIMEOUT:?}")]
    ConnectTimeout(SocketAddr),
    #[error("HTTP exchange with the emulator failed: {0}")]
    Http(#[from] hyper::Error),
    #[error("a body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("reading a body failed: {0}")]
    Body(String),
}

/// Sends one request to the emulator and returns its answer, the body streaming.
pub async fn send(
    addr: SocketAddr,
    request: http::Request<Body>,
) -> Result<http::Response<Incoming>, UpstreamError> {
    let stream =
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Err(_) => return Err(UpstreamError::ConnectTimeout(addr)),
            Ok(Err(source)) => return Err(UpstreamError::Connect { addr, source }),
            Ok(Ok(s)) => s,
        };
    // Small requests and answers: Nagle would hold them back for a delayed ACK.
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .preserve_header_case(true)
        .handshake(TokioIo::new(stream))
        .await?;
    tokio::spawn(async move {
        // The answer's body streams over this connection; its errors reach the body's reader.
        let _ = connection.await;
    });
    Ok(sender.send_request(request).await?)
}

/// Reads a whole body, at most `limit` bytes.
pub async fn collect<B>(body: B, limit: usize) -> Result<Bytes, UpstreamError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(UpstreamError::TooLarge(limit)),
        Err(e) => Err(UpstreamError::Body(e.to_string())),
    }
}
