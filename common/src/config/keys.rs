//! Every key of the configuration, with its default and its meaning: what the overlay of
//! variables and flags accepts, what `configure` writes (the defaults as comments), and the
//! table of docs/configuration.md, generated from [`KEYS`] (`markdown_table`).
//!
//! Tests keep the list and the [`super::Config`] struct together: every field of every
//! section is listed, every listed key is accepted, and every listed default is the struct's
//! own (a configuration that sets each key to its listed default equals one that sets
//! nothing). Adding a key without documenting it, or changing a default without saying so,
//! fails them; so does docs/configuration.md without the table as generated here.

/// The advice under every error about a key: where every key is described.
pub(super) const ADVICE: &str =
    "Every key, its default and its bounds: docs/configuration.md (installed in \
     /usr/share/doc/vpce-lab/).";

/// What a key holds, so that `VPCE_LAB_…=8` becomes an integer and `VPCE_LAB_…=true` a
/// boolean while `VPCE_LAB_BUCKET=123456789012-…` stays a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Str,
    Int,
    Bool,
    /// A duration written like `"20s"`, `"500ms"`, `"1m"`.
    Duration,
    /// A size written like `"10GiB"`, `"4MiB"` or a number of bytes.
    Size,
    /// A table of its own (`[compensation.overrides]`): the file only.
    Table,
}

/// A key's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDefault {
    /// There is none: the file must set it.
    Required,
    /// Unset unless chosen; what unset means is in the key's meaning. The value is an
    /// example, as a TOML line's right-hand side (or a whole line for a table).
    Unset(&'static str),
    /// This value, as TOML.
    Is(&'static str),
}

/// One key: `section` ("" at the top level), its name, its type, its default, and what it
/// means (Markdown, one paragraph).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub section: &'static str,
    pub name: &'static str,
    pub value: ValueType,
    pub default: KeyDefault,
    pub meaning: &'static str,
}

impl Key {
    /// `section.name`, or `name` at the top level: the form `--set` takes.
    pub fn dotted(&self) -> String {
        if self.section.is_empty() {
            self.name.to_string()
        } else {
            format!("{}.{}", self.section, self.name)
        }
    }

    /// `VPCE_LAB_SECTION_NAME`: the environment variable that overrides it.
    pub fn variable(&self) -> String {
        format!("VPCE_LAB_{}", self.dotted().replace('.', "_").to_ascii_uppercase())
    }
}

const fn key(
    section: &'static str,
    name: &'static str,
    value: ValueType,
    default: KeyDefault,
    meaning: &'static str,
) -> Key {
    Key { section, name, value, default, meaning }
}

use KeyDefault::{Is, Required, Unset};
use ValueType::{Bool, Duration, Int, Size, Str, Table};

/// Every key, section by section, in the order of the file `configure` writes.
pub const KEYS: &[Key] = &[
    key("", "region", Str, Unset("\"us-east-1\""),
        "The AWS region. Unset: the SDK's own chain (`AWS_REGION`, the profile, the instance's metadata on EC2). `configure` writes the stack's."),
    key("", "bucket", Str, Required,
        "The restricted bucket: sales files, the ledger, reports (the stack's `RestrictedS3Bucket` output)."),
    key("", "queue_url", Str, Required,
        "The queue's URL (the stack's `SQSQueueURL` output). Configured, never looked up: the lab allows no `sqs:GetQueueUrl`."),
    key("endpoints", "s3", Str, Unset("\"https://s3.us-east-1.amazonaws.com\""),
        "The S3 endpoint URL. Unset: `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else the SDK's default for the region (the gateway endpoint is a route, so the default name is right inside the VPC)."),
    key("endpoints", "sqs", Str, Unset("\"https://vpce-0123456789abcdef0-abcdefgh.sqs.us-east-1.vpce.amazonaws.com\""),
        "The SQS endpoint URL, e.g. the interface endpoint's own `vpce-…` name where private DNS is off. Unset: `AWS_ENDPOINT_URL_SQS`, else `AWS_ENDPOINT_URL`, else the SDK's default for the region."),
    key("endpoints", "force_path_style", Bool, Is("false"),
        "Path-style S3 addressing (`http://host/bucket/key`): true only for the local emulator."),
    key("endpoints", "require_private_sqs", Bool, Is("false"),
        "Refuse to start (exit 78) when the SQS endpoint's name resolves to any address that is not private: the interface endpoint's private DNS is then not in effect. `configure` writes true."),
    key("endpoints", "connect_timeout", Duration, Is("\"5s\""),
        "TCP connect timeout of every AWS call (100ms to 1m). A connect to a VPC endpoint takes milliseconds; a security group that drops packets makes it hang instead."),
    key("endpoints", "attempt_timeout", Duration, Is("\"30s\""),
        "Timeout of one attempt of an AWS call (ReceiveMessage: the long poll plus up to 10 s more), and the longest a GetObject body may send nothing (100ms to 10m)."),
    key("endpoints", "give_up_after", Duration, Is("\"60s\""),
        "How long a one-shot command (`upload`, `once`) keeps retrying a service that stays unreachable, on top of the SDK's own attempts, before it exits 69 naming the operation and the endpoint (0s to 1h). Only a transient failure is retried: every other one ends the command at once. The daemons retry for as long as it takes."),
    key("compensation", "commission_bps", Int, Is("500"),
        "The commission rate in basis points (500 = 5.00 %), for every rep without an override (at most 10000)."),
    key("compensation", "overrides", Table, Unset("\"Ada Lovelace\" = 700"),
        "Per-rep rates in basis points, keyed by the exact `sales_rep` (at most 10000 each), in a table of their own, `[compensation.overrides]`. Both binaries read `[compensation]`, so the ledger and the reports agree."),
    key("salesapp", "spool_dir", Str, Is("\"/var/lib/salesapp/spool\""),
        "The directory of `salesapp watch`: `incoming/`, `done/`, `failed/`. An absolute path."),
    key("salesapp", "poll_interval", Duration, Is("\"2s\""),
        "How often `watch` looks into `incoming/` (10ms to 1h)."),
    key("salesapp", "settle_time", Duration, Is("\"5s\""),
        "How long a file's size, mtime and inode must stay unchanged before `watch` takes it, so a file still being written in place is not taken half-way (0s to 1h)."),
    key("salesapp", "shutdown_grace", Duration, Is("\"25s\""),
        "How long the upload in progress may run after SIGTERM; below systemd's 30 s stop timeout."),
    key("reportsengine", "concurrency", Int, Is("4"),
        "Messages processed at once (1 to 64)."),
    key("reportsengine", "wait_time", Duration, Is("\"20s\""),
        "The ReceiveMessage long poll (1s to 20s, as SQS allows: below 1 s an idle engine would short-poll, many paid requests a second)."),
    key("reportsengine", "visibility_timeout", Duration, Is("\"30s\""),
        "The queue's visibility timeout *as set on the queue* (1s to 12h, as SQS allows). It cannot be read (no `sqs:GetQueueAttributes`): keep it equal to the queue's. The engine warns when a message's work nears it."),
    key("reportsengine", "shutdown_grace", Duration, Is("\"25s\""),
        "How long in-flight messages may run after SIGTERM; below systemd's 30 s stop timeout."),
    key("reportsengine", "max_object_size", Size, Is("\"10GiB\""),
        "Larger sales objects are quarantined unread (above 0)."),
    key("reportsengine", "read_connections", Int, Is("8"),
        "How many connections read a large sales object at once, as parallel ranged GETs (1 to 32; 1 reads every object over one stream)."),
    key("reportsengine", "read_part_size", Size, Is("\"4MiB\""),
        "The size of one ranged GET (1MiB to 64MiB). Memory for an object is at most `read_connections` × `read_part_size`."),
    key("reportsengine", "input_prefix", Str, Unset("\"sales/\""),
        "Accept only messages naming keys under this prefix (not empty). Unset: any key of the bucket but the daemons' own prefixes (`reports/`, `quarantine/`, `doctor/`, `compensation/`), as the lab's by-hand flow needs."),
    key("doctor", "unrestricted_bucket", Str, Unset("\"123456789012-lab-us-east-1-unrestrictedbucket\""),
        "The lab's other bucket (the stack's `UnrestrictedS3Bucket` output): `doctor --controls` checks that writing to it is denied. Unset: that check is skipped unless `--unrestricted-bucket` names one."),
    key("metrics", "listen", Str, Unset("\"127.0.0.1:9464\""),
        "Serve `GET /metrics` (Prometheus text format) on this address and port, given as numbers; a loopback or private address only. Unset: no listener."),
    key("metrics", "textfile", Str, Unset("\"/var/lib/node_exporter/textfile_collector/vpce-lab.prom\""),
        "Also write the metrics to this absolute path, atomically, for node_exporter's textfile collector; its directory must exist and be writable. Unset: no file."),
    key("metrics", "textfile_interval", Duration, Is("\"15s\""),
        "How often the textfile is rewritten (1s to 1h)."),
    key("limits", "max_line_bytes", Int, Is("65536"),
        "The longest record of a sales file in bytes (a line, or the lines of one quoted record), header included; also what is held between two reads of a stream (1024 to 16777216)."),
    key("limits", "max_columns", Int, Is("256"),
        "The most columns a sales file's header may name (7 to 10000)."),
    key("limits", "max_name_bytes", Int, Is("256"),
        "The longest `sales_rep`, `region` or `product`, in bytes (16 to 65536)."),
    key("limits", "max_order_id_bytes", Int, Is("128"),
        "The longest `order_id`, in bytes (8 to 65536)."),
    key("limits", "max_rows", Int, Is("100000000"),
        "The most data rows in one sales file (1 to 10000000000)."),
    key("limits", "max_reps", Int, Is("100000"),
        "The most distinct `sales_rep` values in one sales file (1 to 10000000): a file over it is refused where it crosses it, before memory grows with the names."),
    key("limits", "max_regions", Int, Is("10000"),
        "The most distinct `region` values in one sales file (1 to 10000000)."),
    key("limits", "max_products", Int, Is("100000"),
        "The most distinct `product` values in one sales file (1 to 10000000)."),
    key("limits", "max_problems", Int, Is("100000"),
        "How many problems of a file that is not valid are kept for the complete list in `failed/NAME.error.txt` and `--max-errors all` (20 to 10000000); all are counted."),
    key("limits", "max_message_bytes", Int, Is("65536"),
        "The largest SQS message body the engine parses, in bytes (1024 to 1048576); a larger one is quarantined unread. Ours are about 200 bytes."),
];

/// The sections, in order (the top level first, as "").
pub fn sections() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in KEYS {
        if !out.contains(&k.section) {
            out.push(k.section);
        }
    }
    out
}

/// The table of docs/configuration.md: one row per key.
pub fn markdown_table() -> String {
    let mut out = String::from("| key | default | meaning |\n|---|---|---|\n");
    for k in KEYS {
        let default = match k.default {
            Required => "required".to_string(),
            Unset(_) => "unset".to_string(),
            Is(value) => format!("`{value}`"),
        };
        let example = match (k.default, k.value) {
            (Unset(example), Table) => format!(" Example: `{example}`."),
            (Unset(example), _) => format!(" Example: `{} = {example}`.", k.name),
            _ => String::new(),
        };
        out.push_str(&format!("| `{}` | {default} | {}{example} |\n", k.dotted(), k.meaning));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        Config, DoctorConfig, EndpointsConfig, EngineConfig, Limits, MetricsConfig, SalesappConfig,
    };
    use sales_domain::money::Compensation;
    use serde::de::{self, Deserializer, Visitor};

    const MINIMAL: &str = "bucket = \"local-restrictedbucket\"\nqueue_url = \"http://127.0.0.1:5000/123456789012/q\"\n";

    /// A deserializer that only records the fields a struct asks for: serde's derive hands
    /// them to `deserialize_struct`, so this is the struct's own list of keys.
    struct FieldNames<'a>(&'a mut Vec<&'static str>);

    impl<'de> Deserializer<'de> for FieldNames<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only a struct's fields are read"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.extend(fields);
            Err(de::Error::custom("fields read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    fn fields_of<T: serde::de::DeserializeOwned>() -> Vec<&'static str> {
        let mut fields = Vec::new();
        let _ = T::deserialize(FieldNames(&mut fields));
        fields
    }

    fn listed(section: &str) -> Vec<&'static str> {
        let mut names: Vec<&'static str> =
            KEYS.iter().filter(|k| k.section == section).map(|k| k.name).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn every_field_of_every_section_is_listed() {
        let sorted = |mut v: Vec<&'static str>| {
            v.sort_unstable();
            v
        };
        let sections = [
            "endpoints",
            "compensation",
            "salesapp",
            "reportsengine",
            "doctor",
            "metrics",
            "limits",
        ];
        let top: Vec<&'static str> =
            fields_of::<Config>().into_iter().filter(|f| !sections.contains(f)).collect();
        assert_eq!(sorted(top), listed(""));
        assert_eq!(sorted(fields_of::<EndpointsConfig>()), listed("endpoints"));
        assert_eq!(sorted(fields_of::<Compensation>()), listed("compensation"));
        assert_eq!(sorted(fields_of::<SalesappConfig>()), listed("salesapp"));
        assert_eq!(sorted(fields_of::<EngineConfig>()), listed("reportsengine"));
        assert_eq!(sorted(fields_of::<DoctorConfig>()), listed("doctor"));
        assert_eq!(sorted(fields_of::<MetricsConfig>()), listed("metrics"));
        assert_eq!(sorted(fields_of::<Limits>()), listed("limits"));
        let mut all = fields_of::<Config>();
        all.retain(|f| sections.contains(f));
        assert_eq!(sorted(all), sorted(sections.to_vec()), "every section is a field");
    }

    /// A file that sets every key to its listed default is the configuration of a file that
    /// sets nothing: the listed defaults are the struct's.
    #[test]
    fn the_listed_defaults_are_the_structs() {
        let mut text = String::from(MINIMAL);
        for section in sections() {
            if !section.is_empty() {
                text.push_str(&format!("[{section}]\n"));
            }
            for k in KEYS.iter().filter(|k| k.section == section) {
                if let Is(value) = k.default {
                    text.push_str(&format!("{} = {value}\n", k.name));
                }
            }
        }
        let explicit = Config::from_parts("defaults", &text, &[], &[]).expect("defaults load");
        let implicit = Config::from_parts("minimal", MINIMAL, &[], &[]).expect("minimal loads");
        assert_eq!(explicit, implicit, "a listed default differs from the struct's:\n{text}");
    }

    /// Each unset key's example is a value the key accepts (so the docs and `configure`'s
    /// comments show something that works).
    #[test]
    fn the_examples_are_accepted() {
        for k in KEYS {
            let Unset(example) = k.default else { continue };
            let text = match (k.section, k.value) {
                ("", _) => format!("{MINIMAL}{} = {example}\n", k.name),
                (section, Table) => format!("{MINIMAL}[{section}.{}]\n{example}\n", k.name),
                (section, _) => format!("{MINIMAL}[{section}]\n{} = {example}\n", k.name),
            };
            Config::from_parts("example", &text, &[], &[])
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", k.dotted()));
        }
    }

    #[test]
    fn the_documentation_shows_the_table_as_generated() {
        let docs = include_str!("../../../docs/configuration.md");
        let table = markdown_table();
        assert!(docs.contains(&table), "docs/configuration.md lacks the key table:\n{table}");
    }

    #[test]
    fn variables_and_dotted_names() {
        let concurrency = KEYS.iter().find(|k| k.name == "concurrency").expect("listed");
        assert_eq!(concurrency.dotted(), "reportsengine.concurrency");
        assert_eq!(concurrency.variable(), "VPCE_LAB_REPORTSENGINE_CONCURRENCY");
        let bucket = KEYS.iter().find(|k| k.name == "bucket").expect("listed");
        assert_eq!(bucket.variable(), "VPCE_LAB_BUCKET");
    }

    /// Each limit's meaning says the range `Limits::check` enforces, so the documentation
    /// cannot drift from the check.
    #[test]
    fn each_limit_states_its_range() {
        for field in Limits::default().fields() {
            let key = KEYS
                .iter()
                .find(|k| k.section == "limits" && k.name == field.key)
                .unwrap_or_else(|| panic!("limits.{} is not listed", field.key));
            let range = format!("({} to {}", field.min, field.max);
            assert!(key.meaning.contains(&range), "limits.{}: {range}", field.key);
        }
    }
}
