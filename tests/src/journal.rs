//! The test's own journald: a datagram socket the test binds, passed to a binary with
//! `--journal-socket`, and a parser of the journal's native protocol
//! (<https://systemd.io/JOURNAL_NATIVE_PROTOCOL/>): `NAME=value` lines, and for a value with
//! a newline `NAME`, a newline, the length as 64-bit little-endian, the value, a newline.

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One journal entry: its fields (a field sent twice keeps its last value).
pub type Entry = BTreeMap<String, String>;

/// The socket, read on a thread of its own as journald would (a datagram socket's queue is
/// short, and a sender blocks when it is full), and every entry received so far.
pub struct JournalSocket {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
    received: Arc<Mutex<Vec<Entry>>>,
    stop: Arc<AtomicBool>,
}

impl JournalSocket {
    /// Binds `dir/journal.sock` and starts reading it.
    pub fn bind(dir: &Path) -> JournalSocket {
        let path = dir.join("journal.sock");
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).expect("bind the journal socket");
        sock.set_read_timeout(Some(Duration::from_millis(20))).expect("read timeout");
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (into, done) = (received.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 20];
            while !done.load(Ordering::Relaxed) {
                let Ok(n) = sock.recv(&mut buf) else { continue };
                // Empty datagrams (the binaries' probe) carry no entry.
                if n > 0 {
                    let entry = parse(&buf[..n]).unwrap_or_else(|e| {
                        panic!(
                            "not the native protocol ({e}): {:?}",
                            String::from_utf8_lossy(&buf[..n])
                        )
                    });
                    into.lock().expect("entries").push(entry);
                }
            }
        });
        JournalSocket { path, entries: Vec::new(), received, stop }
    }

    /// Moves whatever has arrived into [`JournalSocket::entries`]; returns them all.
    pub fn drain(&mut self) -> &[Entry] {
        self.entries.append(&mut self.received.lock().expect("entries"));
        &self.entries
    }

    /// Waits until an entry satisfies `pred`; returns it.
    #[track_caller]
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Entry) -> bool,
    ) -> Entry {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.drain().iter().find(|e| pred(e)) {
                return e.clone();
            }
            if Instant::now() > deadline {
                panic!("no journal entry {what} within {timeout:?}; got {:#?}", self.entries);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for JournalSocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Parses one datagram.
pub fn parse(mut data: &[u8]) -> Result<Entry, String> {
    let mut entry = Entry::new();
    while !data.is_empty() {
        let end = data.iter().position(|&b| b == b'=' || b == b'\n').ok_or("a name without end")?;
        let name = std::str::from_utf8(&data[..end]).map_err(|e| e.to_string())?.to_string();
        if name.is_empty()
            || !name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!("bad field name {name:?}"));
        }
        let value;
        if data[end] == b'=' {
            let rest = &data[end + 1..];
            let nl = rest.iter().position(|&b| b == b'\n').ok_or("a value without newline")?;
            value = rest[..nl].to_vec();
            data = &rest[nl + 1..];
        } else {
            let rest = &data[end + 1..];
            if rest.len() < 8 {
                return Err("a binary field without its length".into());
            }
            let len = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes")) as usize;
            let body = &rest[8..];
            if body.len() < len + 1 || body[len] != b'\n' {
                return Err(format!("binary field {name}: length {len} does not fit"));
            }
            value = body[..len].to_vec();
            data = &body[len + 1..];
        }
        entry.insert(name, String::from_utf8(value).map_err(|e| e.to_string())?);
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_forms_parse() {
        let mut d = b"PRIORITY=4\nERROR\n".to_vec();
        d.extend_from_slice(&3u64.to_le_bytes());
        d.extend_from_slice(b"a\nb\nKEY=k\n");
        let e = super::parse(&d).unwrap();
        assert_eq!(e["PRIORITY"], "4");
        assert_eq!(e["ERROR"], "a\nb");
        assert_eq!(e["KEY"], "k");
        assert!(super::parse(b"bad=x\n").is_err());
    }
}
