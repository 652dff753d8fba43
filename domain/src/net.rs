//! Classification of endpoint addresses as private or public.
//!
//! `doctor` and `require_private_sqs` use this to tell whether the SQS interface endpoint's
//! private DNS is in effect: inside the lab VPC `sqs.<region>.amazonaws.com` must resolve to
//! 10.x addresses, and a public answer means traffic would leave through the NAT gateway.
//! No DNS lookups happen here; callers pass the addresses they resolved.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where an address lives, as far as "does traffic to it stay off the internet" goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// 127.0.0.0/8, ::1 (the local emulator).
    Loopback,
    /// RFC 1918: 10/8, 172.16/12, 192.168/16 (a VPC interface endpoint).
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// RFC 6598 shared address space 100.64/10 (carrier-grade NAT).
    Cgnat,
    /// RFC 4193 fc00::/7.
    UniqueLocal,
    /// 0.0.0.0/8 and `::`: not a destination at all. A resolver answering this is usually a
    /// DNS sinkhole or filter, which an operator wants named, not called "public".
    Unspecified,
    /// 224.0.0.0/4, ff00::/8: cannot be an endpoint; a sign of a broken DNS answer.
    Multicast,
    /// Everything else: routed over the internet.
    Public,
}

impl AddressClass {
    pub fn of(ip: IpAddr) -> AddressClass {
        match ip {
            IpAddr::V4(v4) => Self::of_v4(v4),
            IpAddr::V6(v6) => Self::of_v6(v6),
        }
    }

    fn of_v4(ip: Ipv4Addr) -> AddressClass {
        match ip.octets() {
            [0, ..] => AddressClass::Unspecified,
            [127, ..] => AddressClass::Loopback,
            [10, ..] => AddressClass::Private,
            [172, b, ..] if (16..=31).contains(&b) => AddressClass::Private,
            [192, 168, ..] => AddressClass::Private,
            [169, 254, ..] => AddressClass::LinkLocal,
            [100, b, ..] if (64..=127).contains(&b) => AddressClass::Cgnat,
            [a, ..] if (224..=239).contains(&a) => AddressClass::Multicast,
            _ => AddressClass::Public,
        }
    }

    fn of_v6(ip: Ipv6Addr) -> AddressClass {
        // `::ffff:a.b.c.d` is how a dual-stack resolver may hand back an IPv4 answer; the
        // packets go to the IPv4 address, so that is what decides. (`to_ipv4_mapped` does not
        // treat the deprecated IPv4-compatible `::a.b.c.d` form as IPv4, and neither do we.)
        if let Some(v4) = ip.to_ipv4_mapped() {
            return Self::of_v4(v4);
        }
        let first = ip.segments()[0];
        if ip.is_loopback() {
            AddressClass::Loopback
        } else if ip.is_unspecified() {
            AddressClass::Unspecified
        } else if first & 0xfe00 == 0xfc00 {
            AddressClass::UniqueLocal
        } else if first & 0xffc0 == 0xfe80 {
            AddressClass::LinkLocal
        } else if first & 0xff00 == 0xff00 {
            AddressClass::Multicast
        } else {
            AddressClass::Public
        }
    }

    /// True for every class whose addresses are reachable only from a private network, i.e.
    /// traffic to them never crosses the internet. `Unspecified` and `Multicast` are false:
    /// they are not usable endpoints, so a check that demands a private endpoint must fail.
    pub fn is_private(self) -> bool {
        !matches!(self, AddressClass::Public | AddressClass::Unspecified | AddressClass::Multicast)
    }

    /// A short label for doctor's table, naming the rule so the operator can look it up.
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private (RFC 1918)",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Cgnat => "shared CGNAT (RFC 6598)",
            AddressClass::UniqueLocal => "unique local (RFC 4193)",
            AddressClass::Unspecified => "unspecified (DNS sinkhole?)",
            AddressClass::Multicast => "multicast",
            AddressClass::Public => "public",
        }
    }
}

impl std::fmt::Display for AddressClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::AddressClass::{self, *};

    #[test]
    fn boundaries() {
        let table: &[(&str, AddressClass)] = &[
            ("0.0.0.0", Unspecified),
            ("0.255.255.255", Unspecified),
            ("1.0.0.0", Public),
            ("9.255.255.255", Public),
            ("10.0.0.0", Private),
            ("10.0.1.25", Private),
            ("10.255.255.255", Private),
            ("11.0.0.0", Public),
            ("100.63.255.255", Public),
            ("100.64.0.0", Cgnat),
            ("100.127.255.255", Cgnat),
            ("100.128.0.0", Public),
            ("126.255.255.255", Public),
            ("127.0.0.0", Loopback),
            ("127.0.0.1", Loopback),
            ("127.255.255.255", Loopback),
            ("128.0.0.0", Public),
            ("169.253.255.255", Public),
            ("169.254.0.0", LinkLocal),
            ("169.254.169.254", LinkLocal),
            ("169.254.255.255", LinkLocal),
            ("169.255.0.0", Public),
            ("172.15.255.255", Public),
            ("172.16.0.0", Private),
            ("172.31.255.255", Private),
            ("172.32.0.0", Public),
            ("192.167.255.255", Public),
            ("192.168.0.0", Private),
            ("192.168.255.255", Private),
            ("192.169.0.0", Public),
            ("52.216.0.1", Public),
            ("223.255.255.255", Public),
            ("224.0.0.0", Multicast),
            ("239.255.255.255", Multicast),
            ("240.0.0.0", Public),
            ("::", Unspecified),
            ("::1", Loopback),
            ("::2", Public),
            ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Public),
            ("fc00::", UniqueLocal),
            ("fd12:3456::1", UniqueLocal),
            ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", UniqueLocal),
            ("fe00::", Public),
            ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Public),
            ("fe80::", LinkLocal),
            ("fe80::1", LinkLocal),
            ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", LinkLocal),
            ("fec0::", Public),
            ("ff02::1", Multicast),
            ("2600:1f18::1", Public),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:172.15.255.255", Public),
            ("::ffff:172.16.0.0", Private),
            ("::ffff:100.64.0.0", Cgnat),
            ("::ffff:169.254.1.1", LinkLocal),
            ("::ffff:8.8.8.8", Public),
            ("::ffff:0.0.0.0", Unspecified),
            ("::10.0.0.1", Public), // IPv4-compatible (deprecated) is not IPv4-mapped
        ];
        for (text, want) in table {
            let ip: std::net::IpAddr = text.parse().unwrap();
            assert_eq!(AddressClass::of(ip), *want, "{text}");
        }
    }

    /// Addresses `require_private_sqs` meets in practice, and the literals its end-to-end test
    /// uses (tests/tests/private_endpoints.rs).
    #[test]
    fn addresses_met_in_practice() {
        let table: &[(&str, bool)] = &[
            ("10.0.1.87", true),                // the interface endpoint's ENI in the lab VPC
            ("10.0.2.14", true),                // … in the second private subnet
            ("127.0.0.1", true),                // the local emulator
            ("172.31.0.2", true),               // the default VPC's range
            ("100.100.100.100", true),          // CGNAT
            ("169.254.169.254", true),          // IMDS
            ("fd00:ec2::254", true),            // IMDS over IPv6 (unique local)
            ("fd12:3456:789a::5", true),        // unique local
            ("fe80::1ff:fe23:4567:890a", true), // link-local
            ("::1", true),
            ("::ffff:192.168.1.1", true), // IPv4-mapped private
            ("52.94.133.131", false),     // sqs.us-east-1.amazonaws.com's public answers
            ("3.218.180.1", false),
            ("192.0.2.1", false), // TEST-NET-1: public, never routed (tests)
            ("8.8.8.8", false),
            ("2001:db8::1", false),     // IPv6 documentation range: public
            ("64:ff9b::a00:1", false),  // NAT64 of 10.0.0.1: leaves through a NAT gateway
            ("2600:1f18:4f::1", false), // an AWS public IPv6 range
            ("0.0.0.0", false),
            ("::", false),
            ("224.0.0.1", false),
        ];
        for (text, private) in table {
            let ip: std::net::IpAddr = text.parse().unwrap();
            assert_eq!(AddressClass::of(ip).is_private(), *private, "{text}");
        }
    }

    #[test]
    fn privacy_and_labels() {
        for c in [Loopback, Private, LinkLocal, Cgnat, UniqueLocal] {
            assert!(c.is_private(), "{c:?}");
        }
        for c in [Public, Unspecified, Multicast] {
            assert!(!c.is_private(), "{c:?}");
        }
        assert_eq!(Private.describe(), "private (RFC 1918)");
        assert_eq!(Public.to_string(), "public");
        let all =
            [Loopback, Private, LinkLocal, Cgnat, UniqueLocal, Unspecified, Multicast, Public];
        let labels: std::collections::BTreeSet<_> = all.iter().map(|c| c.describe()).collect();
        assert_eq!(labels.len(), all.len(), "labels are distinct");
    }
}
