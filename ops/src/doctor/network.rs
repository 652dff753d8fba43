//! The endpoints as the network sees them: what their names resolve to (private or public,
//! judged per service) and whether a TCP connection gets through.

use std::net::IpAddr;

use sales_domain::net::AddressClass;

use common::config::{url_host, url_port, Config};
use common::endpoints::{proxy_for, unresolved, EndpointUrls};
use common::failure::{Kind, Service};

use super::table::Check;
use super::NET_TIMEOUT;

/// The DNS and TCP rows of both endpoints, and whether they are the local emulator.
pub(super) struct Network {
    pub(super) rows: Vec<Check>,
    pub(super) emulator: bool,
}

/// Resolves both endpoints and connects to each.
pub(super) async fn examine(config: &Config, endpoints: &EndpointUrls) -> Network {
    let mut emulator = false;
    let mut resolved = Vec::new();
    let mut rows = Vec::new();
    for (service, url) in [(Service::S3, &endpoints.s3), (Service::Sqs, &endpoints.sqs)] {
        let host = url_host(url).unwrap_or_default().to_string();
        let port = url_port(url);
        match resolve(&host, port).await {
            Ok(addrs) => {
                emulator |= !addrs.is_empty()
                    && addrs.iter().all(|a| AddressClass::of(*a) == AddressClass::Loopback);
                rows.push(judge_dns(service, &host, &addrs, config.endpoints.require_private_sqs));
                resolved.push((service, host, port, addrs));
            }
            Err(why) => {
                rows.push(unresolved_row(service, &host, &why));
                resolved.push((service, host, port, Vec::new()));
            }
        }
    }
    for (service, host, port, addrs) in &resolved {
        rows.push(tcp_check(*service, host, *port, addrs).await);
    }
    Network { rows, emulator }
}

/// One row for both endpoints: does a proxy (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, less
/// `NO_PROXY`) carry their traffic, as the SDK's client would send it. Under the lab that is
/// a WARN: a proxy sends S3 and SQS requests from its own address, around the VPC endpoints,
/// their policies and the bucket's and queue's `aws:sourceVpce` conditions.
pub(super) fn proxies(endpoints: &EndpointUrls, env: &dyn Fn(&str) -> Option<String>) -> Check {
    let services = [(Service::S3, &endpoints.s3), (Service::Sqs, &endpoints.sqs)];
    let proxied: Vec<String> = services
        .iter()
        .filter_map(|(service, url)| {
            proxy_for(url, env)
                .map(|proxy| format!("{} ({url}) via {proxy}", service.label().to_uppercase()))
        })
        .collect();
    if proxied.is_empty() {
        let set: Vec<&str> =
            ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
                .into_iter()
                .filter(|v| env(v).is_some_and(|v| !v.is_empty()))
                .collect();
        let detail = if set.is_empty() {
            "none: S3 and SQS requests go direct".to_string()
        } else {
            format!("{} set, but S3 and SQS go direct (NO_PROXY or another scheme)", set.join(", "))
        };
        return Check::pass("proxy", detail);
    }
    Check::warn(
        "proxy",
        format!("{}: that traffic does not take the VPC endpoints", proxied.join("; ")),
        "add the endpoints' hosts to NO_PROXY (e.g. NO_PROXY=.amazonaws.com,169.254.169.254) or \
         unset HTTPS_PROXY/HTTP_PROXY/ALL_PROXY for the daemons (`systemctl edit`)",
    )
}

fn describe_addrs(addrs: &[IpAddr]) -> String {
    addrs
        .iter()
        .map(|a| format!("{a} ({})", AddressClass::of(*a).describe()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `dns` row for a name that does not resolve: what a command's check of the same
/// endpoint says (`common::endpoints::unresolved`), with its kind.
fn unresolved_row(service: Service, host: &str, why: &str) -> Check {
    Check::failed(format!("{} dns", service.label()), &unresolved(host, why), "")
}

/// Judges one endpoint's DNS answers (pure).
pub fn judge_dns(service: Service, host: &str, addrs: &[IpAddr], require_private: bool) -> Check {
    let name = format!("{} dns", service.label());
    if addrs.is_empty() {
        return unresolved_row(service, host, "no addresses");
    }
    let detail = format!("{host} → {}", describe_addrs(addrs));
    let all_loopback = addrs.iter().all(|a| AddressClass::of(*a) == AddressClass::Loopback);
    if all_loopback {
        return Check::pass(name, format!("{detail}: the local emulator"));
    }
    let public: Vec<&IpAddr> =
        addrs.iter().filter(|a| !AddressClass::of(**a).is_private()).collect();
    match service {
        Service::S3 if public.is_empty() => {
            Check::pass(name, format!("{detail}: private (an S3 interface endpoint)"))
        }
        Service::S3 => Check::pass(
            name,
            format!(
                "{detail}: public answers are expected for the S3 *gateway* endpoint (a route \
                 table entry sends the packets through it)"
            ),
        ),
        Service::Sqs if public.is_empty() => Check::pass(
            name,
            format!("{detail}: private, the interface endpoint's private DNS is in effect"),
        ),
        Service::Sqs => {
            let hint = "the SQS interface endpoint's private DNS is not in effect here: enable \
                        private DNS on the endpoint (and DNS support/hostnames on the VPC), or \
                        set endpoints.sqs to the endpoint's vpce-….sqs.REGION.vpce.amazonaws.com \
                        name. Otherwise SQS traffic leaves through the NAT gateway and the queue \
                        policy (aws:sourceVpce) denies it";
            if require_private {
                Check::fail(
                    name,
                    Kind::Config,
                    format!("{detail}: PUBLIC, and require_private_sqs is set"),
                    hint,
                )
            } else {
                Check::warn(name, format!("{detail}: public"), hint)
            }
        }
    }
}

async fn resolve(host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
    match tokio::time::timeout(NET_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Err(_) => Err(format!("no DNS answer within {}s", NET_TIMEOUT.as_secs())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(addrs)) => {
            let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            ips.dedup();
            Ok(ips)
        }
    }
}

async fn tcp_check(service: Service, host: &str, port: u16, addrs: &[IpAddr]) -> Check {
    let name = format!("{} tcp", service.label());
    let Some(ip) = addrs.first() else {
        return Check::skip(name, "no address to connect to");
    };
    let start = std::time::Instant::now();
    match tokio::time::timeout(NET_TIMEOUT, tokio::net::TcpStream::connect((*ip, port))).await {
        Ok(Ok(_)) => Check::pass(
            name,
            format!("{host}:{port} ({ip}) connected in {} ms", start.elapsed().as_millis()),
        ),
        Ok(Err(e)) => Check::fail(
            name,
            Kind::Transient,
            format!("{host}:{port} ({ip}): {e}"),
            "connection refused or unreachable: check the endpoint URL and port, and the route \
             tables",
        ),
        Err(_) => Check::fail(
            name,
            Kind::Transient,
            format!("{host}:{port} ({ip}): no answer within {}s", NET_TIMEOUT.as_secs()),
            match service {
                Service::Sqs => {
                    "a timeout (not a refusal) is what the interface endpoint's security group \
                     does to sources it does not admit: it allows 443 only from the two apps' \
                     security groups; check this instance's security group"
                }
                Service::S3 => {
                    "check that this private subnet's route table has the S3 gateway endpoint's \
                     route (or a NAT route) and that the security group allows outbound 443"
                }
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::table::Status;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn s3_gateway_keeps_public_answers_and_that_passes() {
        let c = judge_dns(Service::S3, "b.s3.us-east-1.amazonaws.com", &ips(&["52.216.1.2"]), true);
        assert_eq!(c.status, Status::Pass);
        assert!(c.detail.contains("gateway"), "{}", c.detail);
        assert!(c.detail.contains("52.216.1.2 (public)"), "{}", c.detail);
    }

    #[test]
    fn sqs_must_resolve_privately() {
        let host = "sqs.us-east-1.amazonaws.com";
        let ok = judge_dns(Service::Sqs, host, &ips(&["10.0.1.55", "10.0.2.77"]), true);
        assert_eq!(ok.status, Status::Pass);
        assert!(ok.detail.contains("private (RFC 1918)"));
        let bad = judge_dns(Service::Sqs, host, &ips(&["10.0.1.55", "3.236.1.1"]), true);
        assert_eq!(bad.status, Status::Fail);
        assert_eq!(bad.kind, Kind::Config);
        assert!(bad.hint.as_deref().unwrap_or("").contains("private DNS"));
        let lax = judge_dns(Service::Sqs, host, &ips(&["3.236.1.1"]), false);
        assert_eq!(lax.status, Status::Warn);
        let emu = judge_dns(Service::Sqs, "127.0.0.1", &ips(&["127.0.0.1"]), true);
        assert_eq!(emu.status, Status::Pass);
        assert!(emu.detail.contains("emulator"));
        assert_eq!(judge_dns(Service::Sqs, host, &[], true).status, Status::Fail);
    }
}
