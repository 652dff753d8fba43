//! Where the metrics go: `GET /metrics` on `[metrics] listen`, and a textfile for
//! node_exporter rewritten every `textfile_interval`. Both encode the same registry, in the
//! Prometheus text format (0.0.4), when asked: an idle daemon does nothing for them but
//! wait on a socket and, with a textfile, wake every interval.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::Program;
use crate::config::MetricsConfig;
use crate::failure::{Error, Result};

/// Scrapes served at once; more wait in the listen backlog. Prometheus scrapes one at a time.
const CONNECTIONS: usize = 4;
/// A client that has not sent its request's headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// What [`export`] started; stopping or dropping it ends the listener and the textfile task.
#[derive(Debug)]
pub struct Exporter {
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
        self.tasks.push(tokio::spawn(serve(listener, self.registry.clone())));
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

/// Accepts scrapes for ever, [`CONNECTIONS`] at a time.
async fn serve(listener: TcpListener, registry: Arc<Registry>) {
    let slots = Arc::new(Semaphore::new(CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, registry.clone(), slot));
            }
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                tracing::warn!(error = %e, "metrics listener: accept failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// One client's HTTP/1 connection, holding `_slot` until it closes.
async fn connection(stream: TcpStream, registry: Arc<Registry>, _slot: OwnedSemaphorePermit) {
    let service = hyper::service::service_fn(move |request| {
        let response = answer(&request, &registry);
        async move { Ok::<_, Infallible>(response) }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "metrics connection ended with an error");
    }
}

/// `GET /metrics` (or `HEAD`): the registry, encoded; anything else is refused.
fn answer<B>(request: &Request<B>, registry: &Registry) -> Response<String> {
    if request.uri().path() != "/metrics" {
        return plain(StatusCode::NOT_FOUND, "the metrics are at /metrics\n");
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut refused = plain(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics\n");
        refused.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return refused;
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
    fn only_get_metrics_is_served() {
        let registry = super::super::registry(Program::Reportsengine);
        let ok = answer(&request(Method::GET, "/metrics"), &registry);
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()[CONTENT_TYPE], prometheus_text::CONTENT_TYPE);
        assert!(ok.body().contains("# TYPE reportsengine_messages_total counter"), "{}", ok.body());
        assert_eq!(answer(&request(Method::GET, "/"), &registry).status(), StatusCode::NOT_FOUND);
        let post = answer(&request(Method::POST, "/metrics"), &registry);
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
