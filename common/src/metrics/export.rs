//! Where the metrics go: `GET /metrics` on `[metrics] listen` (and a small landing page at
//! `/`, as node_exporter has), and a textfile for node_exporter rewritten every
//! `textfile_interval`. Both encode the same registry, in the Prometheus text format
//! (0.0.4), when asked: an idle daemon does nothing for them but wait on a socket and, with
//! a textfile, wake every interval.
//!
//! # A scrape is answered whatever other clients do
//! Anyone who can reach the port can connect, and a client that never sends its request,
//! sends it a byte at a time, or pipelines requests and never reads the answers must not
//! keep Prometheus out. So:
//! - one request per connection: the answer says `Connection: close` and the connection
//!   ends, so pipelined requests are never answered (nothing piles up unread) and a slot is
//!   held for one answer only (a scrape every 15 s costs one TCP handshake more);
//! - the request's headers must arrive within [`HEADER_TIMEOUT`], and the whole connection
//!   (reading the request, writing the answer to a client that does not read) ends by
//!   [`CONNECTION_DEADLINE`] whatever it is doing;
//! - [`CONNECTIONS`] at once, and the accept loop never stops accepting: a new client at the
//!   limit takes the slot of the oldest connection, which is closed. A scrape is answered in
//!   milliseconds, so it is never the oldest for long; what holds slots is what is slow.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{HeaderValue, ALLOW, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

use super::Program;
use crate::config::MetricsConfig;
use crate::failure::{Error, Result};

/// Connections served at once; at the limit a new one closes the oldest. Prometheus scrapes
/// one at a time; the rest is room for slow clients, each bounded by the deadlines below.
const CONNECTIONS: usize = 64;
/// A client that has not sent its request's headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Everything a connection does ends by then: reading the request and writing the answer.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);

/// What [`export`] started; stopping or dropping it ends the listener and the textfile task.
#[derive(Debug)]
pub struct Exporter {
    program: Program,
    registry: Arc<Registry>,
    textfile: Option<PathBuf>,
    tasks: Vec<JoinHandle<()>>,
    local_addr: Option<SocketAddr>,
}

/// Starts what `config` asks for, for `program`: `None` when it asks for nothing. A listen
/// address that cannot be bound, or a textfile that cannot be written, is a configuration
/// error at start (exit 78), not a warning found hours later.
pub async fn export(config: &MetricsConfig, program: Program) -> Result<Option<Exporter>> {
    if config.listen.is_none() && config.textfile.is_none() {
        return Ok(None);
    }
    let mut exporter = Exporter {
        program,
        registry: Arc::new(super::registry(program)),
        textfile: config.textfile.clone(),
        tasks: Vec::new(),
        local_addr: None,
    };
    if let Some(addr) = config.listen {
        exporter.listen(addr).await?;
    }
    if let Some(path) = &config.textfile {
        exporter.start_textfile(path, config.textfile_interval).await?;
    }
    Ok(Some(exporter))
}

impl Exporter {
    /// Where `GET /metrics` is served, once listening.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    async fn listen(&mut self, addr: SocketAddr) -> Result<()> {
        let cannot = |e: std::io::Error| {
            Error::config(format!("metrics.listen = {addr}: cannot listen there: {e}"))
        };
        let listener = TcpListener::bind(addr).await.map_err(cannot)?;
        let local = listener.local_addr().map_err(cannot)?;
        tracing::info!(address = %local, "serving metrics on http://{local}/metrics");
        self.local_addr = Some(local);
        self.tasks.push(tokio::spawn(serve(listener, self.registry.clone(), self.program)));
        Ok(())
    }

    async fn start_textfile(&mut self, path: &Path, every: Duration) -> Result<()> {
        write_textfile(path.to_path_buf(), &self.registry).await.map_err(|e| {
            Error::config(format!(
                "metrics.textfile: {e} (its directory must exist and be writable; under systemd \
                 allow it with a ReadWritePaths= drop-in)"
            ))
        })?;
        tracing::info!(path = %path.display(), every = ?every, "writing metrics to a textfile");
        let task = rewrite_textfile(path.to_path_buf(), self.registry.clone(), every);
        self.tasks.push(tokio::spawn(task));
        Ok(())
    }

    /// Stops serving; the textfile gets the final counts, so what node_exporter shows after
    /// a stop is what the daemon had done.
    pub async fn finish(mut self) {
        for task in std::mem::take(&mut self.tasks) {
            task.abort();
            let _ = task.await;
        }
        if let Some(path) = self.textfile.take() {
            if let Err(e) = write_textfile(path, &self.registry).await {
                tracing::warn!(error = %e, "cannot write the final metrics textfile");
            }
        }
    }

    fn stop_tasks(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

/// The connections being served, oldest first; closed when the listener stops.
#[derive(Default)]
struct Open(VecDeque<AbortHandle>);

impl Open {
    /// Makes room for one more: forgets the connections that ended and, at the limit,
    /// closes the oldest.
    fn make_room(&mut self) {
        self.0.retain(|c| !c.is_finished());
        if self.0.len() >= CONNECTIONS {
            if let Some(oldest) = self.0.pop_front() {
                oldest.abort();
                tracing::debug!(
                    "metrics listener: at {CONNECTIONS} connections, closed the oldest"
                );
            }
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        for connection in &self.0 {
            connection.abort();
        }
    }
}

/// Accepts clients for ever, never waiting for a slot (see the module's docs).
async fn serve(listener: TcpListener, registry: Arc<Registry>, program: Program) {
    let mut open = Open::default();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                open.make_room();
                let task = tokio::spawn(connection(stream, registry.clone(), program));
                open.0.push_back(task.abort_handle());
            }
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                tracing::warn!(error = %e, "metrics listener: accept failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// One client's connection: one request, one answer, within [`CONNECTION_DEADLINE`].
async fn connection(stream: TcpStream, registry: Arc<Registry>, program: Program) {
    let service = hyper::service::service_fn(move |request| {
        let response = answer(&request, &registry, program);
        async move { Ok::<_, Infallible>(response) }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(CONNECTION_DEADLINE, served).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "metrics connection ended with an error"),
        Err(_) => tracing::debug!("metrics connection closed at its deadline"),
    }
}

/// `GET /metrics` (or `HEAD`): the registry, encoded; `GET /`: the landing page; anything
/// else is refused.
fn answer<B>(request: &Request<B>, registry: &Registry, program: Program) -> Response<String> {
    let path = request.uri().path();
    if path != "/metrics" && path != "/" {
        return plain(StatusCode::NOT_FOUND, "not found: the metrics are at /metrics\n");
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut refused = plain(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics\n");
        refused.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return refused;
    }
    if path == "/" {
        let mut page = Response::new(landing_page(program));
        let headers = page.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        // It links, and that is all: no script, style or image, nothing it may load.
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; base-uri 'none'; form-action 'none'"),
        );
        return page;
    }
    match encode(registry) {
        Ok(body) => {
            let mut ok = Response::new(body);
            ok.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(prometheus_text::CONTENT_TYPE));
            ok
        }
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the metrics\n"),
    }
}

/// The landing page at `/`, as node_exporter answers one: what is running, and where its
/// metrics are. Every piece of it is ours (the program, the release, the commit).
fn landing_page(program: Program) -> String {
    let name = program.name();
    let version = crate::VERSION;
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <title>{name} metrics</title></head>\n<body>\n<h1>{name}</h1>\n\
         <p>{name} {version}: the daemon's metrics, in the Prometheus text format.</p>\n\
         <p><a href=\"/metrics\">Metrics</a></p>\n</body>\n</html>\n"
    )
}

fn plain(status: StatusCode, text: &'static str) -> Response<String> {
    let mut response = Response::new(text.to_string());
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

fn encode(registry: &Registry) -> std::result::Result<String, std::fmt::Error> {
    let mut body = String::new();
    prometheus_text::encode(&mut body, registry)?;
    Ok(body)
}

/// Rewrites the textfile every `every`; a failure is logged when it starts and when it ends,
/// not at every interval.
async fn rewrite_textfile(path: PathBuf, registry: Arc<Registry>, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        match write_textfile(path.clone(), &registry).await {
            Ok(()) if std::mem::take(&mut failing) => {
                tracing::info!(path = %path.display(), "metrics textfile written again");
            }
            Ok(()) => {}
            Err(e) if !std::mem::replace(&mut failing, true) => {
                tracing::warn!(error = %e, "cannot write the metrics textfile; trying again every interval");
            }
            Err(_) => {}
        }
    }
}

/// Writes the textfile atomically (node_exporter never reads half of it), readable by
/// node_exporter's own user whatever the daemon's umask: it holds counters, nothing secret.
async fn write_textfile(path: PathBuf, registry: &Registry) -> Result<()> {
    let body = encode(registry).map_err(|_| {
        Error::write_io(path.display(), std::io::Error::other("cannot encode the metrics"))
    })?;
    let label = path.display().to_string();
    tokio::task::spawn_blocking(move || {
        crate::local::write_atomically_exact(&path, body.as_bytes(), PUBLIC_FILE_MODE)
    })
    .await
    .map_err(|e| Error::write_io(&label, std::io::Error::other(e.to_string())))?
}

/// node_exporter runs as another user.
const PUBLIC_FILE_MODE: u32 = 0o644;

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, path: &str) -> Request<()> {
        Request::builder().method(method).uri(path).body(()).unwrap()
    }

    #[test]
    fn only_get_metrics_and_the_landing_page_are_served() {
        let engine = Program::Reportsengine;
        let registry = super::super::registry(engine);
        let ok = answer(&request(Method::GET, "/metrics"), &registry, engine);
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()[CONTENT_TYPE], prometheus_text::CONTENT_TYPE);
        assert!(ok.body().contains("# TYPE reportsengine_messages_total counter"), "{}", ok.body());
        let page = answer(&request(Method::GET, "/"), &registry, engine);
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().contains("'none'"));
        assert!(page.body().contains("<title>reportsengine metrics</title>"), "{}", page.body());
        assert!(page.body().contains("<a href=\"/metrics\">"), "{}", page.body());
        let missing = answer(&request(Method::GET, "/other"), &registry, engine);
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let post = answer(&request(Method::POST, "/metrics"), &registry, engine);
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[ALLOW], "GET, HEAD");
    }

    #[tokio::test]
    async fn the_listener_serves_and_the_textfile_is_written_readable() {
        let dir = std::env::temp_dir().join(format!("metrics-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let textfile = dir.join("salesapp.prom");
        let config = MetricsConfig {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            textfile: Some(textfile.clone()),
            textfile_interval: Duration::from_secs(1),
        };
        let exporter = export(&config, Program::Salesapp).await.unwrap().expect("started");
        let addr = exporter.local_addr().expect("listening");
        assert!(addr.ip().is_loopback() && addr.port() != 0);
        let scraped = scrape(addr).await;
        assert!(scraped.starts_with("HTTP/1.1 200 OK"), "{scraped}");
        assert!(scraped.contains("salesapp_uploads_total"), "{scraped}");
        assert!(!scraped.contains("reportsengine_"), "only the program's own: {scraped}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&textfile).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert!(std::fs::read_to_string(&textfile).unwrap().contains("build_info{"));
        std::fs::remove_file(&textfile).unwrap();
        exporter.finish().await;
        assert!(textfile.exists(), "the final counts are written at stop");
        assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "stopped listening");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn an_unwritable_textfile_is_a_configuration_error() {
        let config = MetricsConfig {
            textfile: Some("/nonexistent-dir/x.prom".into()),
            ..MetricsConfig::default()
        };
        let err = export(&config, Program::Salesapp).await.unwrap_err();
        assert_eq!(err.exit_code(), 78, "{err}");
        assert!(err.to_string().contains("ReadWritePaths="), "{err}");
        assert!(export(&MetricsConfig::default(), Program::Salesapp).await.unwrap().is_none());
    }

    async fn scrape(addr: SocketAddr) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }
}
