//! The running lab as the walkthrough and `secure` read it: the files `deploy/local/lab.sh
//! start` leaves in the lab's state directory, and the controls' documents as they are now
//! (the emulator's endpoints, security groups and roles, the gateway's bucket and queue
//! policies).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::controls::{Documents, Ids, Live};
use crate::lab::{CredentialsDoc, LabDescription, Snapshot};
use crate::live::{emulator_addr, Emulator};
use crate::state::OwnPolicies;

/// A host's listeners (`listeners.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct Listeners {
    pub endpoint: String,
    pub sqs: String,
    #[serde(default)]
    pub imds: Option<String>,
}

/// What a client on one host of the lab uses: as `lab.sh env HOST` sets it up.
#[derive(Debug, Clone)]
pub struct HostEnv {
    pub name: String,
    /// Every service but SQS.
    pub endpoint: String,
    /// SQS: what `sqs.REGION.amazonaws.com` is on that host.
    pub sqs: String,
    pub credentials: CredentialsDoc,
    pub region: String,
}

/// The lab's state directory, read.
#[derive(Debug, Clone)]
pub struct LabFiles {
    pub dir: PathBuf,
    pub lab: LabDescription,
    pub listeners: BTreeMap<String, Listeners>,
    /// The deployed stack's outputs.
    pub outputs: BTreeMap<String, String>,
    /// `workshop.json`.
    pub documents: Documents,
}

#[derive(Deserialize)]
struct Described {
    #[serde(rename = "Stacks")]
    stacks: Vec<DescribedStack>,
}

#[derive(Deserialize)]
struct DescribedStack {
    #[serde(rename = "Outputs", default)]
    outputs: Vec<Output>,
}

#[derive(Deserialize)]
struct Output {
    #[serde(rename = "OutputKey")]
    key: String,
    #[serde(rename = "OutputValue")]
    value: String,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl LabFiles {
    /// Reads the state directory of a running lab.
    pub fn read(dir: &Path) -> Result<LabFiles, String> {
        let described: Described = read_json(&dir.join("outputs.json"))?;
        let outputs = described
            .stacks
            .into_iter()
            .flat_map(|s| s.outputs)
            .map(|o| (o.key, o.value))
            .collect();
        Ok(LabFiles {
            dir: dir.to_path_buf(),
            lab: read_json(&dir.join("lab.json"))?,
            listeners: read_json(&dir.join("listeners.json"))?,
            outputs,
            documents: read_json(&dir.join("workshop.json"))?,
        })
    }

    /// A stack output.
    pub fn output(&self, name: &str) -> Result<&str, String> {
        self.outputs
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("the stack has no output {name}"))
    }

    /// The decision log.
    pub fn decisions(&self) -> PathBuf {
        self.dir.join("decisions.jsonl")
    }

    /// A host as its clients see it.
    pub fn host(&self, name: &str) -> Result<HostEnv, String> {
        let listeners = self.listeners.get(name).ok_or_else(|| format!("no host {name}"))?;
        let credentials = self
            .lab
            .credentials
            .get(name)
            .ok_or_else(|| format!("no credentials for the host {name}"))?;
        Ok(HostEnv {
            name: name.to_string(),
            endpoint: listeners.endpoint.clone(),
            sqs: listeners.sqs.clone(),
            credentials: credentials.clone(),
            region: self.lab.region.clone(),
        })
    }

    /// Where the workshop's controls live.
    pub fn ids(&self) -> Result<Ids, String> {
        Ids::of(&self.outputs, &self.lab)
    }

    /// The controls' documents now: read from the emulator and the gateway's own store.
    pub async fn live(&self) -> Result<(Live, Snapshot), String> {
        let ids = self.ids()?;
        let emulator =
            Emulator { addr: emulator_addr(&self.lab.emulator)?, region: self.lab.region.clone() };
        let principals: BTreeSet<String> = ids.roles.values().cloned().collect();
        let snapshot = emulator
            .snapshot(&self.lab.endpoints, &principals)
            .await
            .map_err(|e| format!("reading the lab from the emulator: {e}"))?;
        let own: OwnPolicies = read_json(&self.dir.join("resource-policies.json"))?;
        Ok((Live::read(&snapshot, &own, &ids), snapshot))
    }
}
