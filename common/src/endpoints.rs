//! Which endpoint each client talks to, decided before anything is sent: the configuration's
//! (`endpoints.s3`, `endpoints.sqs`), else the SDK's own variables, else what the SDK's endpoint
//! resolver names for the region and its FIPS and dual-stack switches; whether a proxy would
//! carry the traffic; and the check that the SQS endpoint is private.
//!
//! - A pinned endpoint is `endpoints.s3`/`endpoints.sqs`, else
//!   `AWS_ENDPOINT_URL_<SERVICE>`/`AWS_ENDPOINT_URL`, else what the SDK's own endpoint
//!   resolver says for the region, partition, FIPS (`AWS_USE_FIPS_ENDPOINT`) and dual-stack
//!   (`AWS_USE_DUALSTACK_ENDPOINT`) settings ([`endpoint_url`]).
//! - Proxies: the SDK's HTTPS client honours `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and
//!   `NO_PROXY`; doctor says when they would carry S3 or SQS traffic ([`proxy_for`]).

use aws_config::SdkConfig;

use crate::config::{url_host, url_port, Config};
use crate::failure::{Error, Kind, Operation, Service};

/// The endpoint URLs the clients use, as [`endpoint_url`] chooses them: what doctor
/// examines, what `require_private_sqs` checks and what failures name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrls {
    pub s3: String,
    pub sqs: String,
}

/// What, besides the configuration, picks a default endpoint: the region and the SDK's FIPS
/// and dual-stack settings (`AWS_USE_FIPS_ENDPOINT`, `AWS_USE_DUALSTACK_ENDPOINT` or the
/// profile's `use_fips_endpoint` / `use_dualstack_endpoint`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Variant {
    pub region: String,
    pub fips: bool,
    pub dual_stack: bool,
}

impl Variant {
    pub fn of(sdk: &SdkConfig) -> Variant {
        Variant {
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            fips: sdk.use_fips().unwrap_or(false),
            dual_stack: sdk.use_dual_stack().unwrap_or(false),
        }
    }
}

impl EndpointUrls {
    /// Both endpoints for this configuration and SDK configuration.
    pub async fn of(config: &Config, sdk: &SdkConfig) -> Result<EndpointUrls, Error> {
        let variant = Variant::of(sdk);
        Ok(EndpointUrls {
            s3: endpoint_url(Service::S3, config, &variant, &process_env).await?,
            sqs: endpoint_url(Service::Sqs, config, &variant, &process_env).await?,
        })
    }
}

/// Reads the process's environment; the endpoint functions take the environment as a
/// parameter so that tests need not touch the process's.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The endpoint URL a service's client uses, as the SDK chooses it: the configuration's
/// (`endpoints.s3`, `endpoints.sqs`), else `AWS_ENDPOINT_URL_<SERVICE>`, else
/// `AWS_ENDPOINT_URL` (both ignored when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else
/// the SDK's endpoint resolver for `variant` ([`default_endpoint`]).
pub async fn endpoint_url(
    service: Service,
    config: &Config,
    variant: &Variant,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Error> {
    let env_set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let ignore_env = env_set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let (configured, variable) = match service {
        Service::S3 => (&config.endpoints.s3, "AWS_ENDPOINT_URL_S3"),
        Service::Sqs => (&config.endpoints.sqs, "AWS_ENDPOINT_URL_SQS"),
    };
    let chosen = configured
        .clone()
        .or_else(|| if ignore_env { None } else { env_set(variable) })
        .or_else(|| if ignore_env { None } else { env_set("AWS_ENDPOINT_URL") });
    match chosen {
        Some(url) => Ok(url),
        None => default_endpoint(service, config, variant).await,
    }
}

/// What the SDK's own endpoint resolver (the service's rules and the partitions: `aws`,
/// `aws-cn`, `aws-us-gov`…) names for `variant`, as scheme and host: S3 virtual-host style
/// unless `force_path_style` (then the bucket is in the path, which is left out here).
pub async fn default_endpoint(
    service: Service,
    config: &Config,
    variant: &Variant,
) -> Result<String, Error> {
    let failed = |e: &dyn std::fmt::Display| {
        Error::config(format!(
            "no {} endpoint for region {:?} (FIPS {}, dual-stack {}): {e}",
            service.label(),
            variant.region,
            variant.fips,
            variant.dual_stack
        ))
    };
    // Each service's resolver and parameters are their own types: the same steps for both.
    macro_rules! resolve {
        ($sdk:ident, $params:expr) => {{
            use $sdk::config::endpoint::{DefaultResolver, ResolveEndpoint};
            let params = $params.build().map_err(|e| failed(&e))?;
            let endpoint =
                DefaultResolver::new().resolve_endpoint(&params).await.map_err(|e| failed(&e))?;
            endpoint.url().to_string()
        }};
    }
    let url = match service {
        Service::Sqs => resolve!(
            aws_sdk_sqs,
            aws_sdk_sqs::config::endpoint::Params::builder()
                .region(&variant.region)
                .use_fips(variant.fips)
                .use_dual_stack(variant.dual_stack)
        ),
        Service::S3 => resolve!(
            aws_sdk_s3,
            aws_sdk_s3::config::endpoint::Params::builder()
                .region(&variant.region)
                .bucket(&config.bucket)
                .use_fips(variant.fips)
                .use_dual_stack(variant.dual_stack)
                .force_path_style(config.endpoints.force_path_style)
        ),
    };
    // Scheme and authority: a path-style URL's path is the bucket, not the endpoint.
    let authority_end = url.find("://").map_or(0, |i| i + 3);
    Ok(match url[authority_end..].find('/') {
        Some(slash) => url[..authority_end + slash].to_string(),
        None => url,
    })
}

/// Whether a proxy would carry requests to `url`, as the SDK's HTTPS client decides it
/// (hyper-util's matcher, the rules curl uses): the proxy's URL without any user or
/// password, or `None` when the request goes direct.
pub fn proxy_for(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let first = |names: [&str; 2]| names.iter().find_map(|n| env(n).filter(|v| !v.is_empty()));
    let mut builder = hyper_util::client::proxy::matcher::Matcher::builder();
    if let Some(all) = first(["ALL_PROXY", "all_proxy"]) {
        builder = builder.all(all);
    }
    // Under CGI (REQUEST_METHOD set) HTTP_PROXY could come from a request header: ignored,
    // as the matcher does.
    if env("REQUEST_METHOD").is_none() {
        if let Some(http) = first(["HTTP_PROXY", "http_proxy"]) {
            builder = builder.http(http);
        }
    }
    if let Some(https) = first(["HTTPS_PROXY", "https_proxy"]) {
        builder = builder.https(https);
    }
    if let Some(no) = first(["NO_PROXY", "no_proxy"]) {
        builder = builder.no(no);
    }
    let uri: http::Uri = url.parse().ok()?;
    let proxy = builder.build().intercept(&uri)?;
    let uri = proxy.uri();
    Some(format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map_or("", |a| a.as_str().rsplit('@').next().unwrap_or(""))
    ))
}

/// An endpoint's host name that does not resolve (`why`: what the resolver said): transient,
/// since a resolver may answer later (a daemon that meets it at start exits 69, and systemd
/// starts it again), with what to check. Doctor's `dns` rows say the same.
pub fn unresolved(host: &str, why: &str) -> Error {
    Error::new(Kind::Transient, Operation::CheckEndpoint, host, format!("{host}: {why}"))
        .hint("Check the VPC's DNS (enableDnsSupport) and the endpoint URL.")
}

/// How long [`check_private_sqs`] waits for the resolver. Every AWS call has a timeout, and
/// this lookup runs before any of them: glibc's resolver, with unreachable name servers,
/// retries for as long as resolv.conf's `timeout` × `attempts` × servers allows, and a
/// daemon that starts must either start or say why.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// With `require_private_sqs`, resolves the SQS endpoint's host before anything is sent and
/// refuses to start when any answer is a public address: then the interface endpoint's
/// private DNS is not in effect and messages would leave through the NAT gateway.
///
/// `url` is the one `aws::sqs_client` then pins, so what was checked is what is used (an
/// `endpoint_url` from a profile file cannot slip in between).
pub async fn check_private_sqs(config: &Config, url: &str) -> Result<(), Error> {
    if !config.endpoints.require_private_sqs {
        return Ok(());
    }
    let (host, port) = (url_host(url).unwrap_or_default().to_string(), url_port(url));
    let lookup = tokio::net::lookup_host((host.as_str(), port));
    let addrs: Vec<std::net::IpAddr> = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
        .await
        .map_err(|_| {
            let why = format!("no answer from the resolver within {RESOLVE_TIMEOUT:?}");
            unresolved(&host, &why).context("require_private_sqs")
        })?
        .map_err(|e| unresolved(&host, &e.to_string()).context("require_private_sqs"))?
        .map(|a| a.ip())
        .collect();
    let public: Vec<String> = addrs
        .iter()
        .filter(|ip| !sales_domain::net::AddressClass::of(**ip).is_private())
        .map(|ip| ip.to_string())
        .collect();
    if addrs.is_empty() || !public.is_empty() {
        return Err(Error::config(format!(
            "require_private_sqs: the SQS endpoint {host} resolves to public address(es) {} \
             (all answers: {}); the interface endpoint's private DNS is not in effect here. \
             Set endpoints.sqs to the endpoint's vpce-… DNS name or enable private DNS",
            public.join(", "),
            addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(sqs: Option<&str>) -> Config {
        let mut c =
            Config::from_parts("t", "bucket = \"b-b\"\nqueue_url = \"https://q/1/q\"\n", &[], &[])
                .unwrap();
        c.endpoints.sqs = sqs.map(str::to_string);
        c
    }

    fn variant(region: &str, fips: bool, dual_stack: bool) -> Variant {
        Variant { region: region.to_string(), fips, dual_stack }
    }

    #[tokio::test]
    async fn the_checked_endpoint_is_the_one_the_sdk_would_use() {
        let plain = variant("eu-west-1", false, false);
        let sqs_url = |c: Config, env: &'static [(&'static str, &'static str)]| {
            let v = plain.clone();
            async move {
                let env = move |name: &str| {
                    env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
                };
                endpoint_url(Service::Sqs, &c, &v, &env).await.unwrap()
            }
        };
        assert_eq!(sqs_url(config(None), &[]).await, "https://sqs.eu-west-1.amazonaws.com");
        let both: &'static [_] =
            &[("AWS_ENDPOINT_URL_SQS", "http://10.0.1.5"), ("AWS_ENDPOINT_URL", "http://10.9.9.9")];
        assert_eq!(sqs_url(config(None), both).await, "http://10.0.1.5");
        assert_eq!(sqs_url(config(Some("https://vpce-1")), both).await, "https://vpce-1");
        assert_eq!(
            sqs_url(config(None), &[("AWS_ENDPOINT_URL", "http://10.9.9.9")]).await,
            "http://10.9.9.9"
        );
        let ignored: &'static [_] = &[
            ("AWS_ENDPOINT_URL_SQS", "http://10.0.1.5"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ];
        assert_eq!(sqs_url(config(None), ignored).await, "https://sqs.eu-west-1.amazonaws.com");
        let s3 = |name: &str| (name == "AWS_ENDPOINT_URL_S3").then(|| "http://127.0.0.1:9".into());
        assert_eq!(
            endpoint_url(Service::S3, &config(None), &plain, &s3).await.unwrap(),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            endpoint_url(Service::S3, &config(None), &plain, &|_| None).await.unwrap(),
            "https://b-b.s3.eu-west-1.amazonaws.com"
        );
    }

    /// The SDK's resolver, not a format string: FIPS, dual-stack and other partitions get
    /// their own names.
    #[tokio::test]
    async fn default_endpoints_follow_the_sdks_resolver() {
        let c = config(None);
        let sqs = |v: Variant| {
            let c = c.clone();
            async move { default_endpoint(Service::Sqs, &c, &v).await.unwrap() }
        };
        assert_eq!(
            sqs(variant("us-east-1", false, false)).await,
            "https://sqs.us-east-1.amazonaws.com"
        );
        assert_eq!(
            sqs(variant("us-east-1", true, false)).await,
            "https://sqs-fips.us-east-1.amazonaws.com"
        );
        assert_eq!(sqs(variant("us-east-1", false, true)).await, "https://sqs.us-east-1.api.aws");
        assert_eq!(
            sqs(variant("cn-north-1", false, false)).await,
            "https://sqs.cn-north-1.amazonaws.com.cn"
        );
        assert!(sqs(variant("us-gov-west-1", true, false)).await.ends_with(".amazonaws.com"));
        let s3 = |v: Variant, path_style: bool| {
            let mut c = c.clone();
            c.endpoints.force_path_style = path_style;
            async move { default_endpoint(Service::S3, &c, &v).await.unwrap() }
        };
        assert_eq!(
            s3(variant("us-east-1", true, false), false).await,
            "https://b-b.s3-fips.us-east-1.amazonaws.com"
        );
        assert_eq!(
            s3(variant("eu-west-1", false, false), true).await,
            "https://s3.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn proxies_are_judged_as_the_sdks_client_judges_them() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let sqs = "https://sqs.us-east-1.amazonaws.com";
        assert_eq!(proxy_for(sqs, &env(&[])), None);
        let proxied = env(&[("HTTPS_PROXY", "http://user:secret@10.0.0.9:3128")]);
        assert_eq!(
            proxy_for(sqs, &proxied).as_deref(),
            Some("http://10.0.0.9:3128"),
            "no password"
        );
        assert_eq!(proxy_for("http://127.0.0.1:5000", &proxied), None, "HTTPS_PROXY is for https");
        let bypassed =
            env(&[("https_proxy", "http://10.0.0.9:3128"), ("NO_PROXY", ".amazonaws.com")]);
        assert_eq!(proxy_for(sqs, &bypassed), None);
        assert!(proxy_for("http://127.0.0.1:5000", &env(&[("ALL_PROXY", "http://p:1")])).is_some());
    }
}
