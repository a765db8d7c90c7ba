//! Which destinations a request may reach: the refused ranges and the allow-list.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use url::{Host, Url};

use super::OutboundError;
use super::config::{AllowEntry, IpNet, Outbound};

/// Host names of cloud metadata services, refused as their addresses are.
const METADATA_HOSTS: &[&str] = &["metadata.google.internal"];

const METADATA: &str = "a cloud metadata address";
const UNSPECIFIED: &str = "an unspecified address";
const LOOPBACK: &str = "a loopback address";
const PRIVATE: &str = "a private address";
const LINK_LOCAL: &str = "a link-local address";
const DOCUMENTATION: &str = "a documentation address";
const MULTICAST: &str = "a multicast address";
const RESERVED: &str = "a reserved address";

/// Addresses refused unless allowed, with the reason; the first match names it, so the
/// metadata addresses come before the link-local and unique-local ranges around them.
const REFUSED: &[(IpNet, &str)] = &[
    (IpNet::v4([169, 254, 169, 254], 32), METADATA),
    (
        IpNet::v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128),
        METADATA,
    ),
    (IpNet::v4([0, 0, 0, 0], 8), UNSPECIFIED),
    (IpNet::v4([10, 0, 0, 0], 8), PRIVATE),
    (IpNet::v4([100, 64, 0, 0], 10), "a shared (CGNAT) address"),
    (IpNet::v4([127, 0, 0, 0], 8), LOOPBACK),
    (IpNet::v4([169, 254, 0, 0], 16), LINK_LOCAL),
    (IpNet::v4([172, 16, 0, 0], 12), PRIVATE),
    (IpNet::v4([192, 0, 0, 0], 24), RESERVED),
    (IpNet::v4([192, 0, 2, 0], 24), DOCUMENTATION),
    (IpNet::v4([192, 168, 0, 0], 16), PRIVATE),
    (IpNet::v4([198, 18, 0, 0], 15), "a benchmarking address"),
    (IpNet::v4([198, 51, 100, 0], 24), DOCUMENTATION),
    (IpNet::v4([203, 0, 113, 0], 24), DOCUMENTATION),
    (IpNet::v4([224, 0, 0, 0], 4), MULTICAST),
    (IpNet::v4([255, 255, 255, 255], 32), "the broadcast address"),
    (IpNet::v4([240, 0, 0, 0], 4), RESERVED),
    (IpNet::v6([0, 0, 0, 0, 0, 0, 0, 0], 128), UNSPECIFIED),
    (IpNet::v6([0, 0, 0, 0, 0, 0, 0, 1], 128), LOOPBACK),
    // IPv4-compatible addresses, deprecated; some stacks still route them as IPv4.
    (IpNet::v6([0, 0, 0, 0, 0, 0, 0, 0], 96), RESERVED),
    (
        IpNet::v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        "a local-use NAT64 address",
    ),
    (IpNet::v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), RESERVED),
    (
        IpNet::v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        DOCUMENTATION,
    ),
    (IpNet::v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), DOCUMENTATION),
    (
        IpNet::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "a unique-local address",
    ),
    (IpNet::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), LINK_LOCAL),
    (
        IpNet::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "a site-local address",
    ),
    (IpNet::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), MULTICAST),
];

/// Why `ip` is refused unless allowed, or `None` for a public address. IPv6 forms that
/// carry an IPv4 address (mapped, NAT64, 6to4) are judged by that address.
fn refusal(ip: IpAddr) -> Option<&'static str> {
    let ip = effective(ip);
    REFUSED
        .iter()
        .find(|(net, _)| net.contains(ip))
        .map(|(_, reason)| *reason)
}

/// The address a connection to `ip` reaches: the IPv4 address inside an IPv4-mapped,
/// NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address, else `ip` itself.
fn effective(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip.to_canonical() else {
        return ip.to_canonical();
    };
    let bits = v6.to_bits();
    let embedded = match v6.segments() {
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(bits as u32),
        [0x2002, ..] => Some((bits >> 80) as u32),
        _ => None,
    };
    embedded.map_or(IpAddr::V6(v6), |v4| IpAddr::V4(Ipv4Addr::from_bits(v4)))
}

/// The allow-list, and the checks every outbound request passes.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    allow: Vec<AllowEntry>,
}

impl OutboundPolicy {
    pub fn new(config: &Outbound) -> Self {
        OutboundPolicy {
            allow: config.allow.clone(),
        }
    }

    /// Refuses an address in a refused range that no allow entry covers. A metadata
    /// address needs an entry naming it alone: a range around it does not allow it.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), OutboundError> {
        let Some(reason) = refusal(ip) else {
            return Ok(());
        };
        let reached = effective(ip);
        let allowed = self.allow.iter().any(|entry| match entry {
            AllowEntry::Net(net) if reason == METADATA => net.is_single() && net.contains(reached),
            AllowEntry::Net(net) => net.contains(reached) || net.contains(ip),
            AllowEntry::Host(_) => false,
        });
        if allowed {
            return Ok(());
        }
        let shown = match reached == ip {
            true => ip.to_string(),
            false => format!("{ip} ({reached})"),
        };
        Err(OutboundError::Refused {
            reason: format!("{shown} is {reason}"),
        })
    }

    /// Checks what can be checked before resolving: the scheme, a metadata host name,
    /// and an IP address given as the host (such a URL is never resolved).
    pub fn check_url(&self, url: &Url) -> Result<(), OutboundError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::InvalidUrl {
                reason: format!("the scheme must be http or https, not {}", url.scheme()),
            });
        }
        match url.host() {
            None => Err(OutboundError::InvalidUrl {
                reason: "the URL has no host".to_string(),
            }),
            Some(Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            Some(Host::Domain(host)) => self.check_host(host),
        }
    }

    fn check_host(&self, host: &str) -> Result<(), OutboundError> {
        let host = normalize_host(host);
        if METADATA_HOSTS.contains(&host.as_str()) && !self.allows_host(&host) {
            return Err(OutboundError::Refused {
                reason: format!("{host} is a cloud metadata host"),
            });
        }
        Ok(())
    }

    /// The addresses `host` resolved to that a request may use: all of them for an
    /// allowed host name, else those `check_ip` passes; refused when none is left.
    pub fn check_resolved(
        &self,
        host: &str,
        addrs: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, OutboundError> {
        self.check_host(host)?;
        let addrs: Vec<SocketAddr> = addrs.into_iter().collect();
        if self.allows_host(&normalize_host(host)) {
            return Ok(addrs);
        }
        let mut refused = Vec::new();
        let mut allowed = Vec::new();
        for addr in addrs {
            match self.check_ip(addr.ip()) {
                Ok(()) => allowed.push(addr),
                Err(error) => refused.push(error),
            }
        }
        if !allowed.is_empty() {
            return Ok(allowed);
        }
        let reasons: Vec<String> = refused
            .iter()
            .take(3)
            .map(|error| match error {
                OutboundError::Refused { reason } => reason.clone(),
                other => other.to_string(),
            })
            .collect();
        Err(OutboundError::Refused {
            reason: match reasons.is_empty() {
                true => format!("{host} resolves to no address"),
                false => format!(
                    "{host} resolves only to refused addresses: {}",
                    reasons.join("; ")
                ),
            },
        })
    }

    fn allows_host(&self, host: &str) -> bool {
        self.allow
            .iter()
            .any(|entry| matches!(entry, AllowEntry::Host(allowed) if allowed == host))
    }
}

/// A host name as allow entries hold it: lowercase, without a trailing dot.
fn normalize_host(host: &str) -> String {
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str]) -> OutboundPolicy {
        OutboundPolicy::new(&Outbound {
            allow: allow.iter().map(|entry| entry.parse().unwrap()).collect(),
            ..Outbound::default()
        })
    }

    #[test]
    fn addresses_are_classified_by_the_ranges_they_fall_in() {
        let cases: &[(&str, Option<&str>)] = &[
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("2606:4700::1111", None),
            ("0.0.0.0", Some(UNSPECIFIED)),
            ("127.0.0.1", Some(LOOPBACK)),
            ("127.255.255.254", Some(LOOPBACK)),
            ("10.20.30.40", Some(PRIVATE)),
            ("172.16.0.1", Some(PRIVATE)),
            ("172.31.255.255", Some(PRIVATE)),
            ("192.168.1.1", Some(PRIVATE)),
            ("100.64.0.1", Some("a shared (CGNAT) address")),
            ("100.127.255.255", Some("a shared (CGNAT) address")),
            ("169.254.0.1", Some(LINK_LOCAL)),
            ("169.254.169.254", Some(METADATA)),
            ("192.0.2.10", Some(DOCUMENTATION)),
            ("198.51.100.10", Some(DOCUMENTATION)),
            ("203.0.113.10", Some(DOCUMENTATION)),
            ("224.0.0.1", Some(MULTICAST)),
            ("239.255.255.250", Some(MULTICAST)),
            ("255.255.255.255", Some("the broadcast address")),
            ("240.0.0.1", Some(RESERVED)),
            ("::", Some(UNSPECIFIED)),
            ("::1", Some(LOOPBACK)),
            ("::127.0.0.1", Some(RESERVED)),
            ("fe80::1", Some(LINK_LOCAL)),
            ("febf::1", Some(LINK_LOCAL)),
            ("fc00::1", Some("a unique-local address")),
            ("fd12:3456::1", Some("a unique-local address")),
            ("fd00:ec2::254", Some(METADATA)),
            ("ff02::1", Some(MULTICAST)),
            ("2001:db8::1", Some(DOCUMENTATION)),
            ("3fff::1", Some(DOCUMENTATION)),
            ("::ffff:127.0.0.1", Some(LOOPBACK)),
            ("::ffff:169.254.169.254", Some(METADATA)),
            ("::ffff:10.0.0.1", Some(PRIVATE)),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::7f00:1", Some(LOOPBACK)),
            ("64:ff9b::808:808", None),
            ("64:ff9b:1::1", Some("a local-use NAT64 address")),
            ("2002:a00:1::1", Some(PRIVATE)),
            ("2002:808:808::1", None),
        ];
        for (ip, expected) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(refusal(ip), *expected, "{ip}");
            assert_eq!(policy(&[]).check_ip(ip).is_ok(), expected.is_none(), "{ip}");
        }
    }

    #[test]
    fn allow_entries_cover_their_addresses_and_metadata_needs_its_own() {
        let allowed = policy(&["127.0.0.0/8", "10.1.2.3", "169.254.0.0/16", "fd00::/8"]);
        for ip in [
            "127.0.0.1",
            "127.9.9.9",
            "::ffff:127.0.0.1",
            "10.1.2.3",
            "169.254.1.1",
        ] {
            assert!(allowed.check_ip(ip.parse().unwrap()).is_ok(), "{ip}");
        }
        for ip in [
            "10.1.2.4",
            "::1",
            "192.168.0.1",
            "169.254.169.254",
            "fd00:ec2::254",
        ] {
            assert!(allowed.check_ip(ip.parse().unwrap()).is_err(), "{ip}");
        }
        let metadata = policy(&["169.254.169.254", "fd00:ec2::254"]);
        assert!(
            metadata
                .check_ip("169.254.169.254".parse().unwrap())
                .is_ok()
        );
        assert!(metadata.check_ip("fd00:ec2::254".parse().unwrap()).is_ok());
        assert!(
            metadata
                .check_ip("169.254.169.253".parse().unwrap())
                .is_err()
        );
    }

    #[test]
    fn refusals_name_the_address_and_the_reason() {
        let error = policy(&[]).check_ip("::ffff:127.0.0.1".parse().unwrap());
        assert_eq!(
            error.unwrap_err().to_string(),
            "refused by the outbound policy: ::ffff:127.0.0.1 (127.0.0.1) is a loopback address"
        );
    }

    #[test]
    fn urls_are_checked_for_scheme_metadata_host_and_literal_addresses() {
        let check = |policy: &OutboundPolicy, url: &str| {
            policy
                .check_url(&Url::parse(url).unwrap())
                .map_err(|e| e.to_string())
        };
        let none = policy(&[]);
        assert!(check(&none, "https://hooks.slack.com/services/T/B/secret").is_ok());
        assert!(check(&none, "http://hooks.example:8080/x").is_ok());
        let ftp = check(&none, "ftp://files.example/x").unwrap_err();
        assert!(ftp.contains("http or https, not ftp"), "{ftp}");
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.google.internal./",
        ] {
            let error = check(&none, url).unwrap_err();
            assert!(
                error.starts_with("refused by the outbound policy"),
                "{url}: {error}"
            );
        }
        let hosts = policy(&["metadata.google.internal"]);
        assert!(check(&hosts, "http://metadata.google.internal/").is_ok());
    }

    #[test]
    fn resolved_addresses_are_filtered_unless_the_host_is_allowed() {
        let addrs: Vec<SocketAddr> = ["127.0.0.1:0", "[::1]:0", "10.0.0.1:0"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let error = policy(&[])
            .check_resolved("localhost", addrs.clone())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "refused by the outbound policy: localhost resolves only to refused addresses: \
             127.0.0.1 is a loopback address; ::1 is a loopback address; 10.0.0.1 is a \
             private address"
        );
        let loopback_v4 = policy(&["127.0.0.0/8"]).check_resolved("localhost", addrs.clone());
        assert_eq!(loopback_v4.unwrap(), addrs[..1]);
        let host = policy(&["hooks.internal.example"]);
        let all = host.check_resolved("Hooks.Internal.Example.", addrs.clone());
        assert_eq!(all.unwrap(), addrs);
        let public: SocketAddr = "8.8.8.8:0".parse().unwrap();
        let mixed = policy(&[]).check_resolved("mixed.example", [addrs[0], public]);
        assert_eq!(mixed.unwrap(), [public]);
    }
}
