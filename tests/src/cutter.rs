//! A TCP proxy in front of the emulator that cuts one response in the middle of its body:
//! the fault of a connection dropped mid-transfer, for the ranged reads' retry.
//!
//! Every connection is relayed both ways. The first request that asks for the range starting
//! at `cut_at` gets its response cut after `after_bytes` bytes (both sockets shut); later
//! requests for it pass. Requests for that range are counted, so a test can show that it was
//! asked for again.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The running proxy; it stops with the test process (its threads are detached).
pub struct Cutter {
    port: u16,
    asked: Arc<AtomicUsize>,
    cut: Arc<AtomicBool>,
}

impl Cutter {
    /// Listens on 127.0.0.1 (a free port) and relays to `upstream_port` on 127.0.0.1.
    pub fn start(upstream_port: u16, cut_at: u64, after_bytes: usize) -> Cutter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let asked = Arc::new(AtomicUsize::new(0));
        let cut = Arc::new(AtomicBool::new(false));
        let needle = format!("range: bytes={cut_at}-").into_bytes();
        let (asked2, cut2) = (asked.clone(), cut.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                    continue;
                };
                let pending = Arc::new(AtomicBool::new(false));
                let (c2, u2) =
                    (client.try_clone().expect("dup"), upstream.try_clone().expect("dup"));
                let (needle, asked, cut, pending2) =
                    (needle.clone(), asked2.clone(), cut2.clone(), pending.clone());
                std::thread::spawn(move || {
                    requests(client, upstream, &needle, &asked, &cut, &pending2)
                });
                std::thread::spawn(move || responses(u2, c2, &pending, after_bytes));
            }
        });
        Cutter { port, asked, cut }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    /// How many requests asked for the range.
    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
    /// Whether a response was cut.
    pub fn has_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

/// Client → upstream; marks the connection when the range is asked for.
fn requests(
    mut client: TcpStream,
    mut upstream: TcpStream,
    needle: &[u8],
    asked: &AtomicUsize,
    cut: &AtomicBool,
    pending: &AtomicBool,
) {
    let mut buf = vec![0u8; 64 << 10];
    while let Ok(n) = client.read(&mut buf) {
        if n == 0 {
            break;
        }
        let lower = buf[..n].to_ascii_lowercase();
        if lower.windows(needle.len()).any(|w| w == needle) {
            asked.fetch_add(1, Ordering::SeqCst);
            if !cut.swap(true, Ordering::SeqCst) {
                pending.store(true, Ordering::SeqCst);
            }
        }
        if upstream.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = upstream.shutdown(Shutdown::Write);
}

/// Upstream → client; cuts the marked response after `after_bytes`.
fn responses(
    mut upstream: TcpStream,
    mut client: TcpStream,
    pending: &AtomicBool,
    after_bytes: usize,
) {
    let mut buf = vec![0u8; 64 << 10];
    let mut sent_while_pending = 0usize;
    while let Ok(n) = upstream.read(&mut buf) {
        if n == 0 {
            break;
        }
        if pending.load(Ordering::SeqCst) {
            let room = after_bytes.saturating_sub(sent_while_pending).min(n);
            let _ = client.write_all(&buf[..room]);
            sent_while_pending += room;
            if sent_while_pending >= after_bytes {
                let _ = client.shutdown(Shutdown::Both);
                let _ = upstream.shutdown(Shutdown::Both);
                return;
            }
            continue;
        }
        if client.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Write);
}
