//! [`LocalSettings`]: what the commands that need no AWS read (`salesapp validate`,
//! `salesapp upload --dry-run`, `reportsengine build`): the limits and the rates, so that a
//! file is judged and priced as the daemons would, on any machine, with or without a
//! configuration file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::effective::{invalid, typed};
use super::sources::Sources;
use super::validate::validate_compensation;
use super::{overlay, Compensation, Config, Limits};
use crate::failure::Result;

/// The limits and the rates: from the configuration file when there is one; without one,
/// the documented defaults with the `VPCE_LAB_*` variables and `--set` flags applied as
/// usual, checked and located like any configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalSettings {
    pub limits: Limits,
    pub compensation: Compensation,
    /// The file they came from (`None`: no file, the defaults).
    pub file: Option<PathBuf>,
}

/// The two sections these commands read, when there is no file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sections {
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    compensation: Compensation,
}

/// What an error names as the origin of a value that came from neither a variable nor a flag.
const NO_FILE: &str = "the defaults";

impl LocalSettings {
    /// From `path` when given (a file that must then be a valid configuration), else from
    /// the defaults, `env_vars` and `sets`.
    pub fn load(
        path: Option<&Path>,
        env_vars: &[(String, String)],
        sets: &[String],
    ) -> Result<LocalSettings> {
        if let Some(path) = path {
            let c = Config::load(path, env_vars, sets)?;
            return Ok(LocalSettings {
                limits: c.limits,
                compensation: c.compensation,
                file: Some(path.to_path_buf()),
            });
        }
        let mut sources = Sources::default();
        let mut table = toml::Table::new();
        overlay::apply(&mut table, env_vars, sets, &mut sources)?;
        // The other keys (a `VPCE_LAB_BUCKET` in the environment) are not these commands' to
        // judge: each was checked to name a key, and that is all.
        table.retain(|section, _| section == "limits" || section == "compensation");
        let Sections { limits, compensation } = typed(NO_FILE, &table, &sources)?;
        limits
            .check()
            .and_then(|()| validate_compensation(&compensation))
            .map_err(|message| invalid(NO_FILE, &sources, &message))?;
        Ok(LocalSettings { limits, compensation, file: None })
    }
}
