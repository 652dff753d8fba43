//! What the gateway keeps between requests: the lab's current [`World`] (rebuilt from the
//! emulator when something may have changed), the callers behind access keys, its own bucket
//! and queue policies (persisted, so a restart keeps them), and the decision log.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use crate::lab::{build_world, LabDescription};
use crate::live::{Emulator, LiveError};
use crate::policy::NamedPolicy;
use crate::record::Record;
use crate::world::{Caller, World};

/// The lab as decisions see it now.
#[derive(Debug)]
pub struct Current {
    pub world: World,
    /// Identity policies by principal (user ARN or role ARN).
    pub identities: BTreeMap<String, Vec<Arc<NamedPolicy>>>,
    /// Counts the readings of the lab (what depends on them is recomputed once per reading).
    pub generation: u64,
}

impl Current {
    pub fn identity(&self, caller: &Caller) -> &[Arc<NamedPolicy>] {
        self.identities.get(&caller.principal).map_or(&[], Vec::as_slice)
    }
}

/// The bucket and queue policies the gateway keeps (never stored in the emulator: its bucket
/// policy check ignores conditions and would deny every request).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OwnPolicies {
    /// Bucket → policy text.
    pub buckets: BTreeMap<String, String>,
    /// Queue ARN → policy text.
    pub queues: BTreeMap<String, String>,
}

/// Bound of the decision log: past this it is moved to `decisions.jsonl.1` (replacing the
/// previous one) and started again.
const LOG_LIMIT: u64 = 64 << 20;

/// The decision log (`decisions.jsonl`): one JSON line per decision, flushed per line so
/// `lab.sh why` sees every decision at once.
#[derive(Debug)]
pub struct DecisionLog {
    path: PathBuf,
    file: Mutex<(std::fs::File, u64)>,
}

impl DecisionLog {
    pub fn open(path: &Path) -> std::io::Result<DecisionLog> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(DecisionLog { path: path.to_path_buf(), file: Mutex::new((file, len)) })
    }

    pub fn write(&self, record: &Record) {
        let mut line = match serde_json::to_string(record) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "a decision record does not serialise");
                return;
            }
        };
        line.push('\n');
        let Ok(mut guard) = self.file.lock() else { return };
        if guard.1 + line.len() as u64 > LOG_LIMIT {
            let rotated = self.path.with_extension("jsonl.1");
            let reopened = std::fs::rename(&self.path, &rotated).and_then(|()| {
                std::fs::OpenOptions::new().create(true).append(true).open(&self.path)
            });
            match reopened {
                Ok(f) => *guard = (f, 0),
                Err(e) => {
                    tracing::error!(error = %e, log = %self.path.display(), "cannot rotate the decision log")
                }
            }
        }
        match guard.0.write_all(line.as_bytes()) {
            Ok(()) => guard.1 += line.len() as u64,
            Err(e) => {
                tracing::error!(error = %e, log = %self.path.display(), "cannot write the decision log")
            }
        }
    }
}

/// The gateway's memory (see the module doc).
pub struct State {
    pub lab: LabDescription,
    pub emulator: Emulator,
    pub log: DecisionLog,
    own_path: PathBuf,
    own: Mutex<OwnPolicies>,
    callers: Mutex<HashMap<String, Option<Caller>>>,
    principals: Mutex<BTreeSet<String>>,
    current: RwLock<Arc<Current>>,
    stale: AtomicBool,
    reloading: tokio::sync::Mutex<()>,
    generation: AtomicU64,
}

impl State {
    /// Reads the lab once (an error here stops the gateway: it cannot decide blind).
    pub async fn new(
        lab: LabDescription,
        emulator: Emulator,
        state_dir: &Path,
    ) -> anyhow::Result<State> {
        let own_path = state_dir.join("resource-policies.json");
        let own = match std::fs::read_to_string(&own_path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", own_path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => OwnPolicies {
                buckets: lab.bucket_policies.clone(),
                queues: lab.queue_policies.clone(),
            },
            Err(e) => anyhow::bail!("{}: {e}", own_path.display()),
        };
        let mut callers = HashMap::new();
        let mut principals = BTreeSet::new();
        for (key, arn) in &lab.principals {
            let caller = Caller::from_arn(arn).ok_or_else(|| {
                anyhow::anyhow!(
                    "lab.json: principal {arn:?} of {key} is not a user or an assumed role"
                )
            })?;
            principals.insert(caller.principal.clone());
            callers.insert(key.clone(), Some(caller));
        }
        let log = DecisionLog::open(&state_dir.join("decisions.jsonl"))?;
        let state = State {
            lab,
            emulator,
            log,
            own_path,
            own: Mutex::new(own),
            callers: Mutex::new(callers),
            principals: Mutex::new(principals),
            current: RwLock::new(Arc::new(Current {
                world: World::default(),
                identities: BTreeMap::new(),
                generation: 0,
            })),
            stale: AtomicBool::new(true),
            reloading: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
        };
        state.reload().await?;
        state.persist_own()?;
        Ok(state)
    }

    /// The lab as it is now: read again from the emulator first when something changed.
    pub async fn current(&self) -> Arc<Current> {
        if self.stale.load(Ordering::Acquire) {
            if let Err(e) = self.reload().await {
                tracing::error!(error = %e, "cannot read the lab's state from the emulator: deciding with the last one read");
            }
        }
        self.current.read().map(|c| c.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Marks the lab as possibly changed (a call that changes the stack went through).
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }

    /// Reads the lab from the emulator and rebuilds the world. Returns whether it did (it
    /// does not when another reload already made it current).
    pub async fn reload(&self) -> Result<bool, LiveError> {
        let _one_at_a_time = self.reloading.lock().await;
        if !self.stale.swap(false, Ordering::AcqRel) {
            return Ok(false);
        }
        let principals = self.principals.lock().map(|p| p.clone()).unwrap_or_default();
        let snapshot = match self.emulator.snapshot(&self.lab.endpoints, &principals).await {
            Ok(s) => s,
            Err(e) => {
                self.stale.store(true, Ordering::Release);
                return Err(e);
            }
        };
        let own = self.own().clone();
        let (world, identities, warnings) =
            build_world(&self.lab, &snapshot, &own.buckets, &own.queues);
        for w in warnings {
            tracing::warn!(problem = %w, "a policy or rule of the lab cannot be read; it denies everything until fixed");
        }
        if let Ok(mut current) = self.current.write() {
            let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
            *current = Arc::new(Current { world, identities, generation });
        }
        Ok(true)
    }

    /// The caller an access key belongs to: the lab's own keys, else asked of the emulator
    /// once (a key created later through the lab). `None` for a key nobody knows.
    pub async fn caller(&self, access_key: &str) -> Option<Caller> {
        if let Some(known) = self.callers.lock().ok().and_then(|c| c.get(access_key).cloned()) {
            return known;
        }
        let caller = match self.emulator.caller_arn(access_key).await {
            Ok(arn) => arn.as_deref().and_then(Caller::from_arn),
            Err(e) => {
                tracing::warn!(error = %e, "cannot ask the emulator whose access key this is");
                return None;
            }
        };
        if let Some(c) = &caller {
            let new =
                self.principals.lock().map(|mut p| p.insert(c.principal.clone())).unwrap_or(false);
            if new {
                self.mark_stale();
            }
        }
        if let Ok(mut callers) = self.callers.lock() {
            callers.insert(access_key.to_string(), caller.clone());
        }
        caller
    }

    /// The gateway's bucket and queue policies.
    pub fn own(&self) -> std::sync::MutexGuard<'_, OwnPolicies> {
        self.own.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the gateway's policies, saves them, and makes the next decision see them.
    pub fn change_own(&self, change: impl FnOnce(&mut OwnPolicies)) -> std::io::Result<()> {
        change(&mut self.own());
        self.mark_stale();
        self.persist_own()
    }

    fn persist_own(&self) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&*self.own()).map_err(std::io::Error::other)?;
        let tmp = self.own_path.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.own_path)
    }
}
