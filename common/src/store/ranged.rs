//! Large objects read over several connections: parallel ranged GETs, handed on in order.
//!
//! One connection to S3 carries on the order of 100 MB/s, so a day of gigabytes would take
//! minutes over one stream. Past its first part an object is read as ranges of `part` bytes,
//! up to `connections` at once, each fetched whole and handed to the reader strictly in
//! order: the validator and the hash see the object's bytes as one stream. Memory is bounded
//! by `connections × part` whatever the object's size. A range whose read fails is fetched
//! again (a few times) on its own; every range asks for the ETag of the first answer
//! (`If-Match`), so an object replaced in the middle of a read is never stitched together.
//!
//! The range buffers are reused from range to range ([`Buffers`]): with a buffer of `part`
//! bytes allocated and freed per range, glibc's malloc raises its mmap threshold past that
//! size and keeps the freed blocks in its arenas, so resident memory went well past the
//! bound.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::task::JoinHandle;

use crate::failure::{Error, Kind, Operation, Result};

/// How many times one range is fetched before its failure is the read's.
const RANGE_ATTEMPTS: u32 = 3;

/// Where ranges come from: S3 in the store, a fake in the tests.
pub(crate) trait RangeSource: Clone + Send + Sync + 'static {
    /// The bytes `start..=end` of the object, appended to `buf`.
    fn range(
        &self,
        start: u64,
        end: u64,
        buf: BytesMut,
    ) -> impl Future<Output = Result<Bytes>> + Send;
}

/// Range buffers for reuse. No more than `connections + 1` ever exist: one per range in
/// flight and the one being handed on; a buffer the reader still holds is not reused.
#[derive(Clone, Default)]
struct Buffers {
    free: Arc<Mutex<Vec<BytesMut>>>,
    /// How many were allocated, not reused.
    made: Arc<AtomicUsize>,
}

impl Buffers {
    fn take(&self, len: usize) -> BytesMut {
        let reused = self.free.lock().ok().and_then(|mut free| free.pop());
        let mut buf = reused.unwrap_or_else(|| {
            self.made.fetch_add(1, Ordering::Relaxed);
            BytesMut::new()
        });
        buf.clear();
        buf.reserve(len);
        buf
    }

    fn give_back(&self, bytes: Bytes) {
        if let (Ok(buf), Ok(mut free)) = (bytes.try_into_mut(), self.free.lock()) {
            free.push(buf);
        }
    }
}

/// How an object is read: the part size and how many parts at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPlan {
    pub part: u64,
    pub connections: usize,
}

/// The ranges after the first, fetched ahead and handed on in order.
pub(crate) struct Ranged<S: RangeSource> {
    source: S,
    plan: ReadPlan,
    size: u64,
    /// Where the next range to start begins.
    next_start: u64,
    in_flight: VecDeque<JoinHandle<Result<Bytes>>>,
    buffers: Buffers,
    /// The range last handed on: its buffer is reused once the reader has let go of it.
    handed: Option<Bytes>,
}

impl<S: RangeSource> Ranged<S> {
    /// Reads `from..size` of the object (the caller has the bytes before `from`); starts the
    /// first ranges at once. At most `connections - 1` are fetched ahead: the caller reads
    /// the first part over the remaining connection meanwhile.
    pub(crate) fn start(source: S, plan: ReadPlan, from: u64, size: u64) -> Ranged<S> {
        let mut ranged = Ranged {
            source,
            plan,
            size,
            next_start: from,
            in_flight: VecDeque::new(),
            buffers: Buffers::default(),
            handed: None,
        };
        ranged.fill(plan.connections.saturating_sub(1).max(1));
        ranged
    }

    fn fill(&mut self, ahead: usize) {
        while self.in_flight.len() < ahead && self.next_start < self.size {
            let start = self.next_start;
            let end = (start + self.plan.part).min(self.size) - 1;
            self.next_start = end + 1;
            let (source, buffers) = (self.source.clone(), self.buffers.clone());
            self.in_flight.push_back(tokio::spawn(fetch(source, buffers, start, end)));
        }
    }

    /// The next range, in order; `None` after the last.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>> {
        if let Some(handed) = self.handed.take() {
            self.buffers.give_back(handed);
        }
        self.fill(self.plan.connections.max(1));
        let Some(task) = self.in_flight.pop_front() else { return Ok(None) };
        let bytes = task.await.map_err(|e| {
            Error::internal(
                Operation::GetObject,
                "a ranged read",
                format!("the range task failed: {e}"),
            )
        })??;
        self.fill(self.plan.connections.max(1));
        self.handed = Some(bytes.clone());
        Ok(Some(bytes))
    }
}

/// Ranges already asked for are not wanted once the reader is gone (an invalid file, a
/// shutdown): stop them rather than let them run to the end.
impl<S: RangeSource> Drop for Ranged<S> {
    fn drop(&mut self) {
        for task in &self.in_flight {
            task.abort();
        }
    }
}

/// One range, fetched again after a transient failure or a short answer.
async fn fetch<S: RangeSource>(source: S, buffers: Buffers, start: u64, end: u64) -> Result<Bytes> {
    let want = end - start + 1;
    let mut attempt = 1;
    loop {
        let buf = buffers.take(usize::try_from(want).unwrap_or(0));
        let failure = match source.range(start, end, buf).await {
            Ok(bytes) if bytes.len() as u64 == want => return Ok(bytes),
            Ok(bytes) => Error::new(
                Kind::Transient,
                Operation::GetObject,
                "a ranged read",
                format!("bytes {start}-{end}: {} bytes came back, not {want}", bytes.len()),
            ),
            Err(err) if err.kind() == Kind::Transient => err,
            Err(err) => return Err(err),
        };
        if attempt >= RANGE_ATTEMPTS {
            return Err(failure);
        }
        tracing::debug!(start, end, attempt, error = %failure, "range failed; fetching it again");
        tokio::time::sleep(Duration::from_millis(100) * attempt).await;
        attempt += 1;
    }
}

/// `bytes START-END/TOTAL` → TOTAL.
pub(crate) fn total_of_content_range(content_range: &str) -> Option<u64> {
    content_range.rsplit_once('/').and_then(|(_, total)| total.parse().ok())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    /// An object of `len` bytes whose byte `i` is `i % 251`; `fail` lists (start, how many
    /// times) ranges that fail transiently before they answer.
    #[derive(Clone)]
    struct Fake {
        data: Arc<Vec<u8>>,
        fail: Arc<Mutex<Vec<(u64, u32)>>>,
        calls: Arc<AtomicUsize>,
        busy: Arc<AtomicUsize>,
        most_busy: Arc<AtomicUsize>,
    }

    impl Fake {
        fn new(len: usize, fail: &[(u64, u32)]) -> Fake {
            Fake {
                data: Arc::new((0..len).map(|i| (i % 251) as u8).collect()),
                fail: Arc::new(Mutex::new(fail.to_vec())),
                calls: Arc::default(),
                busy: Arc::default(),
                most_busy: Arc::default(),
            }
        }
    }

    impl RangeSource for Fake {
        async fn range(&self, start: u64, end: u64, mut buf: BytesMut) -> Result<Bytes> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let now = self.busy.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_busy.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
            self.busy.fetch_sub(1, Ordering::SeqCst);
            {
                let mut fail = self.fail.lock().unwrap();
                if let Some(entry) = fail.iter_mut().find(|(s, n)| *s == start && *n > 0) {
                    entry.1 -= 1;
                    // A connection cut in the middle of the body: part of it, then nothing.
                    return Err(Error::new(Kind::Transient, Operation::GetObject, "fake", "cut"));
                }
            }
            buf.extend_from_slice(&self.data[start as usize..=end as usize]);
            Ok(buf.freeze())
        }
    }

    async fn read_all(fake: &Fake, plan: ReadPlan, first: usize) -> Result<Vec<u8>> {
        let mut out = fake.data[..first].to_vec();
        let mut ranged = Ranged::start(fake.clone(), plan, first as u64, fake.data.len() as u64);
        while let Some(bytes) = ranged.next().await? {
            out.extend_from_slice(&bytes);
        }
        Ok(out)
    }

    #[tokio::test(start_paused = true)]
    async fn ranges_rebuild_the_exact_bytes_in_order() {
        let plan = ReadPlan { part: 1000, connections: 4 };
        for len in [1000, 1001, 2999, 3000, 10_007] {
            let fake = Fake::new(len, &[]);
            assert_eq!(read_all(&fake, plan, 1000.min(len)).await.unwrap(), *fake.data, "{len}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_range_that_fails_mid_way_is_fetched_again() {
        let plan = ReadPlan { part: 1000, connections: 3 };
        let fake = Fake::new(8_500, &[(3000, 2)]);
        assert_eq!(read_all(&fake, plan, 1000).await.unwrap(), *fake.data);
        assert_eq!(fake.calls.load(Ordering::SeqCst), 8 + 2, "eight ranges, one fetched thrice");
    }

    #[tokio::test(start_paused = true)]
    async fn a_range_that_keeps_failing_fails_the_read() {
        let plan = ReadPlan { part: 1000, connections: 3 };
        let fake = Fake::new(5_000, &[(2000, RANGE_ATTEMPTS)]);
        let err = read_all(&fake, plan, 1000).await.unwrap_err();
        assert_eq!(err.kind(), Kind::Transient, "the message waits for redelivery");
    }

    #[tokio::test(start_paused = true)]
    async fn memory_is_bounded_by_the_connections() {
        let plan = ReadPlan { part: 100, connections: 4 };
        let fake = Fake::new(100_000, &[]);
        read_all(&fake, plan, 100).await.unwrap();
        assert!(fake.most_busy.load(Ordering::SeqCst) <= 4, "{:?}", fake.most_busy);
    }

    #[tokio::test(start_paused = true)]
    async fn range_buffers_are_reused() {
        let plan = ReadPlan { part: 100, connections: 4 };
        let fake = Fake::new(10_000, &[]);
        let mut ranged = Ranged::start(fake.clone(), plan, 100, 10_000);
        let mut read = 0;
        while let Some(bytes) = ranged.next().await.unwrap() {
            read += bytes.len();
        }
        assert_eq!(read, 9_900);
        // 99 ranges, in at most one buffer per connection and the one being handed on.
        let made = ranged.buffers.made.load(Ordering::Relaxed);
        assert!(made <= 5, "{made} buffers for 99 ranges");
    }

    #[test]
    fn content_range_totals() {
        assert_eq!(total_of_content_range("bytes 0-99/1000"), Some(1000));
        assert_eq!(total_of_content_range("bytes */0"), Some(0));
        assert_eq!(total_of_content_range("bytes 0-99"), None);
    }
}
