//! The update of our own state against a bucket in memory: the 412 race, the 403 ambiguity,
//! a missing ETag, the give-up, unreadable state. tokio's clock is paused, so the backoff
//! between attempts takes no real time.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::Mutex;

use super::*;
use crate::store::Object;

/// A set of lines: the smallest state that shows a lost update.
#[derive(Debug, Clone, Default, PartialEq)]
struct Lines(BTreeSet<String>);

#[derive(Debug, thiserror::Error)]
#[error("line {0} is not a line")]
struct NotLines(usize);

thread_local! {
    /// Lost races counted by [`OwnState::lost_race`] (each test runs on its own thread).
    static LOST: Cell<u32> = const { Cell::new(0) };
}

impl OwnState for Lines {
    const KEY: &'static str = "own/lines.txt";
    const LABEL: &'static str = "line set";
    const CONTENT_TYPE: &'static str = "text/plain";
    const PARSE: Operation = Operation::ReadLedger;
    const MAX_BYTES: usize = 64;
    type Invalid = NotLines;
    fn parse(bytes: &[u8]) -> std::result::Result<Lines, NotLines> {
        let text = std::str::from_utf8(bytes).map_err(|_| NotLines(1))?;
        let mut lines = BTreeSet::new();
        for (n, line) in text.lines().enumerate() {
            if !line.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(NotLines(n + 1));
            }
            lines.insert(line.to_string());
        }
        Ok(Lines(lines))
    }
    fn body(&self) -> Bytes {
        Bytes::from(self.0.iter().map(|l| format!("{l}\n")).collect::<String>())
    }
    fn lost_race() {
        LOST.with(|n| n.set(n.get() + 1));
    }
}

fn lines(items: &[&str]) -> Lines {
    Lines(items.iter().map(|s| s.to_string()).collect())
}

/// Adds `line`: the change every test applies.
fn adding(line: &'static str) -> impl Fn(Lines) -> Lines + Sync {
    move |mut l: Lines| {
        l.0.insert(line.to_string());
        l
    }
}

/// One object in memory, with the lab's answers switched on as a test needs them.
#[derive(Default)]
struct Memory {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The body and its ETag.
    object: Option<(Bytes, u32)>,
    version: u32,
    /// Without s3:ListBucket: a read of a missing object answers 403.
    no_list_bucket: bool,
    /// Reads of the object answer 403 even when it exists (the role lacks s3:GetObject).
    reads_denied: bool,
    /// Reads of this many calls from now answer 403 whatever (a moment of doubt).
    denied_reads_left: u32,
    /// Reads return no ETag.
    no_etag: bool,
    /// Another writer adds this line just before each of our writes, this many times.
    rival: Option<(&'static str, u32)>,
    /// Writes fail with this (a denial of PutObject, say).
    writes_fail: Option<Kind>,
    /// Every condition our writes carried.
    conditions: Vec<Condition>,
}

impl Memory {
    fn holding(content: &Lines) -> Memory {
        let memory = Memory::default();
        memory.set(content);
        memory
    }
    fn with(self, f: impl FnOnce(&mut Inner)) -> Memory {
        f(&mut self.inner.lock().unwrap());
        self
    }
    fn set(&self, content: &Lines) {
        let mut inner = self.inner.lock().unwrap();
        inner.version += 1;
        inner.object = Some((content.body(), inner.version));
    }
    fn content(&self) -> Option<Lines> {
        let inner = self.inner.lock().unwrap();
        inner.object.as_ref().map(|(body, _)| Lines::parse(body).unwrap())
    }
    fn conditions(&self) -> Vec<Condition> {
        self.inner.lock().unwrap().conditions.clone()
    }
}

impl StateBucket for Memory {
    fn url(&self, key: &str) -> String {
        format!("s3://memory/{key}")
    }
    async fn read(&self, key: &str, max_bytes: u64) -> Result<Fetched> {
        assert_eq!((key, max_bytes), (Lines::KEY, Lines::MAX_BYTES as u64));
        let mut inner = self.inner.lock().unwrap();
        if inner.denied_reads_left > 0 {
            inner.denied_reads_left -= 1;
            return Ok(Fetched::Denied { code: "AccessDenied".into() });
        }
        if inner.reads_denied {
            return Ok(Fetched::Denied { code: "AccessDenied".into() });
        }
        Ok(match &inner.object {
            Some((body, _)) if body.len() as u64 > max_bytes => {
                Fetched::TooLarge { size: body.len() as u64 }
            }
            Some((body, version)) => Fetched::Found(Object {
                body: body.clone(),
                etag: (!inner.no_etag).then(|| format!("\"{version}\"")),
            }),
            None if inner.no_list_bucket => Fetched::Denied { code: "AccessDenied".into() },
            None => Fetched::NotFound,
        })
    }
    async fn write(
        &self,
        key: &str,
        body: Bytes,
        content_type: &'static str,
        condition: Condition,
    ) -> Result<Written> {
        assert_eq!((key, content_type), (Lines::KEY, Lines::CONTENT_TYPE));
        let mut inner = self.inner.lock().unwrap();
        inner.conditions.push(condition.clone());
        if let Some(kind) = inner.writes_fail {
            return Err(Error::new(kind, Operation::PutObject, self.url(key), "refused"));
        }
        if let Some((line, times)) = inner.rival.as_mut().filter(|(_, times)| *times > 0) {
            *times -= 1;
            let line = line.to_string();
            let mut theirs = match &inner.object {
                Some((body, _)) => Lines::parse(body).unwrap(),
                None => Lines::default(),
            };
            theirs.0.insert(line);
            inner.version += 1;
            inner.object = Some((theirs.body(), inner.version));
        }
        let holds = match (&condition, &inner.object) {
            (Condition::None, _) => true,
            (Condition::Create, existing) => existing.is_none(),
            (Condition::Match(etag), Some((_, version))) => *etag == format!("\"{version}\""),
            (Condition::Match(_), None) => false,
        };
        if !holds {
            return Ok(Written::PreconditionFailed);
        }
        inner.version += 1;
        inner.object = Some((body, inner.version));
        Ok(Written::Ok { etag: Some(format!("\"{}\"", inner.version)) })
    }
}

#[tokio::test(start_paused = true)]
async fn a_lost_race_is_read_and_merged_again_so_no_update_is_lost() {
    let bucket = Memory::holding(&lines(&["a"])).with(|m| m.rival = Some(("theirs", 1)));
    let updated = update(&bucket, adding("ours")).await.unwrap();
    assert_eq!(updated.change, Change::Written);
    assert_eq!(updated.attempt, 2, "the first write lost the race");
    assert_eq!(bucket.content(), Some(lines(&["a", "ours", "theirs"])), "both updates kept");
    assert_eq!(updated.value, lines(&["a", "ours", "theirs"]));
    assert_eq!(LOST.with(Cell::get), 1, "the lost race is counted");
    let conditions = bucket.conditions();
    assert_eq!(conditions.len(), 2);
    assert!(conditions.iter().all(|c| matches!(c, Condition::Match(_))), "{conditions:?}");
    assert_ne!(conditions[0], conditions[1], "the second write names the version read again");
}

#[tokio::test(start_paused = true)]
async fn a_missing_object_is_created_only_if_still_absent() {
    let bucket = Memory::default();
    let updated = update(&bucket, adding("first")).await.unwrap();
    assert_eq!((updated.change, updated.attempt), (Change::Written, 1));
    assert_eq!(bucket.conditions(), vec![Condition::Create], "If-None-Match: *");
    assert_eq!(bucket.content(), Some(lines(&["first"])));
}

#[tokio::test(start_paused = true)]
async fn a_change_already_there_writes_nothing() {
    let bucket = Memory::holding(&lines(&["same"]));
    let updated = update(&bucket, adding("same")).await.unwrap();
    assert_eq!(updated.change, Change::Unchanged);
    assert!(bucket.conditions().is_empty(), "nothing written");
}

/// The 403 rule, first half: without s3:ListBucket a missing object answers 403; the
/// create-only write succeeds, so it was missing and now holds the change.
#[tokio::test(start_paused = true)]
async fn a_403_then_a_successful_create_means_missing() {
    let bucket = Memory::default().with(|m| m.no_list_bucket = true);
    let updated = update(&bucket, adding("first")).await.unwrap();
    assert_eq!(updated.change, Change::Created);
    assert_eq!(updated.value, lines(&["first"]));
    assert_eq!(bucket.conditions(), vec![Condition::Create]);
    assert_eq!(bucket.content(), Some(lines(&["first"])));

    // A reader settles it the same way, with its own seed (the engine: an empty ledger).
    let reader = Memory::default().with(|m| m.no_list_bucket = true);
    let read = read(&reader, &Lines::default()).await.unwrap();
    assert_eq!(read, StateRead::Missing { seeded: true });
    assert_eq!(reader.content(), Some(Lines::default()));
}

/// The 403 rule, second half: the create answers 412, so the object exists, and a 403 on
/// reading it again is a denial, said plainly: never "missing", never written over.
#[tokio::test(start_paused = true)]
async fn a_403_then_412_is_a_denial_said_plainly() {
    let bucket = Memory::holding(&lines(&["kept"])).with(|m| m.reads_denied = true);
    let err = update(&bucket, adding("ours")).await.unwrap_err();
    assert_eq!(err.kind(), Kind::Denied);
    assert_eq!(err.exit_code(), 77);
    let text = err.to_string();
    assert!(text.contains("s3://memory/own/lines.txt"), "{text}");
    assert!(text.contains("The line set exists (a create-only write answered 412)"), "{text}");
    assert!(text.contains("reading it is denied"), "{text}");
    assert_eq!(bucket.conditions(), vec![Condition::Create], "only the create was tried");
    assert_eq!(bucket.content(), Some(lines(&["kept"])), "untouched");
}

/// A 403 of a moment (another writer created the object between the read and the create):
/// the create answers 412 and the read that follows finds it.
#[tokio::test(start_paused = true)]
async fn a_403_then_412_then_a_read_that_works_carries_on() {
    let bucket = Memory::holding(&lines(&["theirs"])).with(|m| m.denied_reads_left = 1);
    let updated = update(&bucket, adding("ours")).await.unwrap();
    assert_eq!(updated.change, Change::Written);
    assert_eq!(bucket.content(), Some(lines(&["ours", "theirs"])));
}

/// When the create that would settle a 403 fails too, nothing can be told: a denial of the
/// read, with the create's failure said beside it.
#[tokio::test(start_paused = true)]
async fn a_403_whose_create_fails_is_a_denial_with_both_causes() {
    let bucket = Memory::default().with(|m| {
        m.no_list_bucket = true;
        m.writes_fail = Some(Kind::Denied);
    });
    let err = read(&bucket, &Lines::default()).await.unwrap_err();
    assert_eq!((err.kind(), err.operation()), (Kind::Denied, Operation::GetObject));
    let text = err.to_string();
    assert!(
        text.contains("GetObject on s3://memory/own/lines.txt was denied (HTTP 403 AccessDenied)"),
        "{text}"
    );
    assert!(text.contains("cannot be told") && text.contains("refused"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_read_without_an_etag_is_never_written_back() {
    let bucket = Memory::holding(&lines(&["a"])).with(|m| m.no_etag = true);
    let err = update(&bucket, adding("ours")).await.unwrap_err();
    assert_eq!(err.kind(), Kind::Unexpected);
    assert_eq!(err.exit_code(), 69);
    assert!(err.to_string().contains("no ETag, so the line set cannot be updated safely"), "{err}");
    assert!(bucket.conditions().is_empty(), "nothing written");
}

/// Another writer wins every race: ten conditional writes, backing off between them, then a
/// transient failure (the work comes back later).
#[tokio::test(start_paused = true)]
async fn ten_lost_races_give_up_as_a_transient_failure() {
    let bucket = Memory::holding(&lines(&["a"])).with(|m| m.rival = Some(("theirs", u32::MAX)));
    let started = tokio::time::Instant::now();
    let err = update(&bucket, adding("ours")).await.unwrap_err();
    assert_eq!((err.kind(), err.operation()), (Kind::Transient, Operation::PutObject));
    assert_eq!(err.exit_code(), 69);
    assert!(
        err.to_string().contains("kept changing under us: 10 conditional writes lost"),
        "{err}"
    );
    assert_eq!(bucket.conditions().len(), ATTEMPTS as usize);
    assert_eq!(LOST.with(Cell::get), ATTEMPTS);
    // Backed off between attempts (capped, jittered: at least half of each delay).
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(25 * 9) && waited <= Duration::from_secs(2 * 10),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn state_that_does_not_parse_is_our_own_state_unreadable() {
    let bucket = Memory::default();
    bucket.inner.lock().unwrap().object = Some((Bytes::from_static(b"ok\nnot ok!\n"), 1));
    let err = update(&bucket, adding("ours")).await.unwrap_err();
    assert_eq!(err.kind(), Kind::StateUnreadable);
    assert_eq!(err.exit_code(), 69);
    let text = err.to_string();
    assert!(text.contains("s3://memory/own/lines.txt is not a valid line set (line 2"), "{text}");
    assert!(text.contains("not a problem of the sales file"), "{text}");
    assert!(bucket.conditions().is_empty(), "nothing written over it");
}

/// State larger than its parser takes is refused by its size, its body never read: our own
/// state unreadable, like state that does not parse, and nothing is written over it.
#[tokio::test(start_paused = true)]
async fn state_over_its_size_is_refused_unread() {
    let many: Vec<String> = (0..20).map(|i| format!("line{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let bucket = Memory::holding(&lines(&many));
    let err = update(&bucket, adding("ours")).await.unwrap_err();
    assert_eq!((err.kind(), err.exit_code()), (Kind::StateUnreadable, 69));
    let text = err.to_string();
    assert!(
        text.contains("is not a valid line set (it is 130 bytes, more than the 64 a line set"),
        "{text}"
    );
    assert!(bucket.conditions().is_empty(), "nothing written over it");
    assert_eq!(Ledger::MAX_BYTES, sales_domain::ledger::MAX_LEDGER_BYTES);
    assert_eq!(Index::MAX_BYTES, sales_domain::report::index::MAX_INDEX_BYTES);
}

/// The two real states: the ledger and the index are what the bucket holds, byte for byte.
#[tokio::test(start_paused = true)]
async fn the_ledger_and_the_index_keep_their_keys_and_types() {
    assert_eq!((Ledger::KEY, Ledger::CONTENT_TYPE), ("compensation/ledger.csv", "text/csv"));
    assert_eq!((Index::KEY, Index::CONTENT_TYPE), ("reports/index.json", "application/json"));
    assert_eq!(Ledger::default().body(), Bytes::from(Ledger::default().to_csv()));
    assert_eq!(Index::parse(&Index::default().body()).unwrap(), Index::default());
}
