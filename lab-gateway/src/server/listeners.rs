//! The listeners: one `endpoint` and one `sqs` listener per host (the latter black-holed while
//! the endpoint's security group refuses the host), the instance hosts' metadata stand-ins,
//! and [`run`], which binds them all and serves until shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{watch, Semaphore};

use super::{reply, Gateway, Listener, Urls, MAX_CONNECTIONS, OPEN_BACKLOG, SHUTDOWN_GRACE};
use crate::imds;
use crate::lab::LabDescription;
use crate::live::{emulator_addr, Emulator};
use crate::reply::Reply;
use crate::state::State;

/// A listener on 127.0.0.1 (an OS-chosen port), with a backlog that can be changed later.
fn listen() -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    socket.listen(OPEN_BACKLOG as u32)
}

fn set_backlog(listener: &TcpListener, backlog: i32) {
    if let Err(e) = socket2::SockRef::from(listener).listen(backlog) {
        tracing::error!(error = %e, "cannot change a listener's backlog");
    }
}

/// Fills a backlog-0 listener's queue with our own connections, so that nobody else's
/// connection attempt is answered (the kernel drops their SYNs).
async fn fill(addr: SocketAddr) -> Vec<TcpStream> {
    let mut fillers = Vec::new();
    for _ in 0..4 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            _ => break,
        }
    }
    fillers
}

/// Serves the `endpoint` listener of a host until shutdown.
async fn serve_endpoint(
    gateway: Arc<Gateway>,
    host: Arc<str>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => gateway.spawn_connection(host.clone(), Listener::Endpoint, stream),
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// Serves the `sqs` listener of a host until shutdown: accepting while the endpoint's
/// security group admits the host, black-holed while it does not (module doc).
async fn serve_sqs(
    gateway: Arc<Gateway>,
    host: Arc<str>,
    listener: TcpListener,
    mut admitted: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "an SQS listener has no address");
            return;
        }
    };
    let mut fillers: Vec<TcpStream> = Vec::new();
    loop {
        let open = *admitted.borrow_and_update();
        if open {
            if !fillers.is_empty() {
                set_backlog(&listener, OPEN_BACKLOG);
                fillers.clear();
            }
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => gateway.spawn_connection(host.clone(), Listener::Sqs, stream),
                    Err(e) => tracing::warn!(error = %e, "accept failed"),
                },
                _ = admitted.changed() => {}
                _ = shutdown.changed() => return,
            }
        } else {
            if fillers.is_empty() {
                set_backlog(&listener, 0);
                fillers = fill(addr).await;
            }
            tokio::select! {
                _ = admitted.changed() => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Serves a host's instance metadata stand-in until shutdown.
async fn serve_imds(
    service: Arc<imds::Service>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = shutdown.changed() => return,
        };
        let service = service.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |request: Request<Incoming>| {
                let service = service.clone();
                async move {
                    let header = |name: &str| {
                        request
                            .headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    };
                    let (status, headers, body) =
                        service.answer(request.method().as_str(), request.uri().path(), &header);
                    Ok::<_, std::convert::Infallible>(reply(Reply {
                        status,
                        headers,
                        body: body.into_bytes(),
                    }))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Runs the gateway for `lab` until `shutdown` resolves: binds every listener, writes their
/// URLs to `STATE_DIR/listeners.json`, serves.
pub async fn run(
    lab: LabDescription,
    state_dir: &Path,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let upstream = emulator_addr(&lab.emulator).map_err(anyhow::Error::msg)?;
    let emulator = Emulator { addr: upstream, region: lab.region.clone() };
    let hosts = lab.hosts.clone();
    let (region, account) = (lab.region.clone(), lab.account.clone());
    let credentials = lab.credentials.clone();
    let state = State::new(lab, emulator, state_dir).await?;
    let (stop, stopped) = watch::channel(false);
    let mut admitted = BTreeMap::new();
    let mut receivers = BTreeMap::new();
    for h in &hosts {
        let (tx, rx) = watch::channel(true);
        admitted.insert(h.name.clone(), tx);
        receivers.insert(h.name.clone(), rx);
    }
    let gateway = Arc::new(Gateway {
        state,
        upstream,
        admitted,
        admission_generation: AtomicU64::new(u64::MAX),
        connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
    });
    let current = gateway.state.current().await;
    gateway.update_admission(&current);

    let mut urls = BTreeMap::new();
    let mut tasks = Vec::new();
    for h in &hosts {
        let name: Arc<str> = Arc::from(h.name.as_str());
        let endpoint = listen()?;
        let sqs = listen()?;
        let url = |l: &TcpListener| l.local_addr().map(|a| format!("http://{a}"));
        let mut host_urls = Urls { endpoint: url(&endpoint)?, sqs: url(&sqs)?, imds: None };
        tasks.push(tokio::spawn(serve_endpoint(
            gateway.clone(),
            name.clone(),
            endpoint,
            stopped.clone(),
        )));
        let rx = receivers
            .remove(&h.name)
            .ok_or_else(|| anyhow::anyhow!("host {} listed twice", h.name))?;
        tasks.push(tokio::spawn(serve_sqs(
            gateway.clone(),
            name.clone(),
            sqs,
            rx,
            stopped.clone(),
        )));
        if let (Some(role), Some(creds)) = (&h.instance_role, credentials.get(&h.name)) {
            let listener = listen()?;
            host_urls.imds = Some(url(&listener)?);
            let service = Arc::new(imds::Service::new(imds::Instance {
                role: role.clone(),
                credentials: creds.clone(),
                region: region.clone(),
                account: account.clone(),
                instance_id: format!("i-lab{}", h.name),
                private_ip: h.private_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            }));
            tasks.push(tokio::spawn(serve_imds(service, listener, stopped.clone())));
        }
        urls.insert(h.name.clone(), host_urls);
    }
    let text = serde_json::to_string_pretty(&urls)?;
    let tmp = state_dir.join("listeners.json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, state_dir.join("listeners.json"))?;
    for (name, u) in &urls {
        tracing::info!(host = %name, endpoint = %u.endpoint, sqs = %u.sqs, imds = ?u.imds, "listening");
    }

    shutdown.await;
    tracing::info!("stopping: no new connections; requests in flight get {SHUTDOWN_GRACE:?}");
    let _ = stop.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let all = MAX_CONNECTIONS as u32;
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, gateway.connections.acquire_many(all)).await;
    Ok(())
}
