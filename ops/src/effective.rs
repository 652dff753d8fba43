//! `salesapp config` / `reportsengine config`: the configuration in effect, every key with
//! its value and where that value came from (the file and its line, a `VPCE_LAB_*`
//! variable, a `--set` flag, or the default), as `aws configure list` shows the AWS CLI's.
//! The configuration holds no credentials; a URL's user name and password, were one there,
//! are shown as `***`.

use common::config::Effective;

use crate::cli::GlobalArgs;

/// Prints the configuration in effect on stdout. A configuration that does not load is the
/// command's failure (exit 78, located like every configuration error).
pub fn main(global: &GlobalArgs) -> anyhow::Result<u8> {
    let effective = global.load_effective()?;
    let text = render(&effective, global.config_path_chosen_by());
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // A closed stdout (config | head) is not a failure of the configuration.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    Ok(0)
}

/// The listing: the file and what chose it, then one aligned row per key (pure).
pub fn render(effective: &Effective, chosen_by: &str) -> String {
    let cells: Vec<(String, String, String)> = effective
        .rows()
        .into_iter()
        .map(|(key, value, source)| (key, value, source.to_string()))
        .collect();
    let key_width = cells.iter().map(|c| c.0.chars().count()).max().unwrap_or(0).max(3);
    let value_width = cells.iter().map(|c| c.1.chars().count()).max().unwrap_or(0).max(5);
    let mut out = format!("configuration file: {} (chosen by {chosen_by})\n", effective.origin);
    out.push_str(&format!("{:<key_width$}  {:<value_width$}  SOURCE\n", "KEY", "VALUE"));
    for (key, value, source) in &cells {
        out.push_str(&format!("{key:<key_width$}  {value:<value_width$}  {source}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_is_aligned_and_names_each_source() {
        let text = "bucket = \"b-b\"\nqueue_url = \"https://q.example/1/q\"\n\
                    [endpoints]\ns3 = \"https://s3.example\"\n";
        let effective = Effective::from_parts(
            "/etc/c.toml",
            text,
            &[],
            &["reportsengine.concurrency=8".into()],
        )
        .expect("loads");
        let listing = render(&effective, "--config");
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines[0], "configuration file: /etc/c.toml (chosen by --config)");
        let source_column = lines[1].find("SOURCE").expect("header");
        for line in &lines[2..] {
            assert_eq!(&line[source_column - 2..source_column], "  ", "{line:?}\n{listing}");
        }
        let row = |key: &str| {
            lines.iter().find(|l| l.starts_with(&format!("{key} "))).copied().unwrap_or_default()
        };
        assert!(row("bucket").contains("\"b-b\""), "{listing}");
        assert!(row("bucket").ends_with("/etc/c.toml:1"), "{listing}");
        assert!(row("endpoints.s3").ends_with("/etc/c.toml:4"), "{listing}");
        assert!(row("reportsengine.concurrency").ends_with("--set"), "{listing}");
        assert!(row("reportsengine.wait_time").contains("\"20s\""), "{listing}");
        assert!(row("reportsengine.wait_time").ends_with("default"), "{listing}");
    }
}
