//! The syntaxes of values: durations (`"20s"`), sizes (`"10GiB"`), endpoint URLs.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

pub(super) fn de_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!("{text:?} is not a duration like \"20s\": {e}"))
    })
}

/// An `ADDRESS:PORT` given as numbers (`"127.0.0.1:9464"`, `"[::1]:9464"`): a host name would
/// need a DNS lookup to say which interface it is, and the address decides whether the port
/// faces the internet.
pub(super) fn de_opt_socket_addr<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    text.trim().parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "{text:?} is not an address and port like \"127.0.0.1:9464\" or \"[::1]:9464\""
        ))
    })
}

pub(super) fn de_size<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(n) => Ok(n),
        Size::Text(t) => parse_size(&t).map_err(serde::de::Error::custom),
    }
}

/// Parses `10GiB`, `512 MiB`, `1GB`, `1000` into bytes.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("{text:?} is not a size like \"10GiB\""))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        "TB" => 1_000_000_000_000,
        "TiB" => 1 << 40,
        other => {
            return Err(format!(
                "{text:?}: unknown size unit {other:?} (use B, KiB, MiB, GiB, TiB)"
            ))
        }
    };
    n.checked_mul(mult).ok_or_else(|| format!("{text:?} is too large"))
}

pub(super) fn check_url(name: &str, url: &str) -> std::result::Result<(), String> {
    let shown = mask_url(url);
    let rest =
        url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or_else(|| {
            format!("{name} = {shown:?} must start with https:// (or http:// locally)")
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.contains('@') {
        return Err(format!(
            "{name} = {shown:?} carries a user name or password: credentials never go in the \
             configuration (they come from the credential chain)"
        ));
    }
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{name} = {shown:?} is not a valid URL"));
    }
    Ok(())
}

/// `text` with the user name and password of a URL (`https://user:pass@host/…`) replaced by
/// `***`, for anything shown to people: an error that quotes a refused value, `config`'s
/// listing. Text without userinfo comes back as it was.
pub fn mask_url(text: &str) -> String {
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), text),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}***{}{tail}", &authority[at..]),
        None => text.to_string(),
    }
}

/// The host (without port) of an `http(s)://host[:port]/…` URL; brackets kept off IPv6.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next();
    }
    authority.split(':').next().filter(|h| !h.is_empty())
}

/// The port of a URL, or the scheme's default.
pub fn url_port(url: &str) -> u16 {
    let default = if url.starts_with("http://") { 80 } else { 443 };
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else { return default };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let after_host = match authority.rfind(']') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    after_host.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or(default)
}
