//! Outbound settings (`Outbound`, part of `Config`) and the allow-list entries they
//! hold, parsed when the configuration is loaded so a bad entry stops the server at
//! start instead of failing its first delivery.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Outbound {
    /// Destinations allowed although the policy refuses them by default: host names
    /// (whatever they resolve to), IP addresses and CIDR ranges. A list, or one
    /// comma-separated string (the form `SEXTANT_OUTBOUND__ALLOW` takes).
    #[serde(deserialize_with = "allow_list")]
    pub allow: Vec<AllowEntry>,
    /// Time to resolve and connect, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Time for a whole request, body included, in milliseconds.
    pub timeout_ms: u64,
    /// Response body bytes read; the rest is left unread.
    pub max_response_bytes: usize,
}

impl Default for Outbound {
    fn default() -> Self {
        Outbound {
            allow: Vec::new(),
            connect_timeout_ms: 5_000,
            timeout_ms: 10_000,
            max_response_bytes: 64 * 1024,
        }
    }
}

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowEntry {
    /// A host name, lowercase and without a trailing dot.
    Host(String),
    /// An address (a range of one) or a CIDR range.
    Net(IpNet),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid outbound.allow entry {entry:?}: {reason}")]
pub struct AllowEntryError {
    entry: String,
    reason: &'static str,
}

impl FromStr for AllowEntry {
    type Err = AllowEntryError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let entry = text.trim();
        let fail = |reason| AllowEntryError {
            entry: entry.to_string(),
            reason,
        };
        if entry.contains("://") {
            return Err(fail("a URL; give the host name alone"));
        }
        if let Some((addr, prefix)) = entry.split_once('/') {
            let addr = parse_ip(addr).ok_or(fail("not an IP address before the /"))?;
            let prefix = prefix
                .parse::<u8>()
                .map_err(|_| fail("the prefix length is not a number"))?;
            let net = IpNet::new(addr, prefix).ok_or(fail("the prefix length is too long"))?;
            if net.addr != IpNet::single(addr).addr {
                return Err(fail("bits are set past the prefix length"));
            }
            return Ok(AllowEntry::Net(net));
        }
        if let Some(addr) = parse_ip(entry) {
            return Ok(AllowEntry::Net(IpNet::single(addr)));
        }
        let host = entry
            .strip_suffix('.')
            .unwrap_or(entry)
            .to_ascii_lowercase();
        let label_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if host.is_empty() {
            return Err(fail("empty"));
        }
        if host.contains('*') {
            return Err(fail("wildcards are not supported; list each host"));
        }
        if !host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(label_char))
        {
            return Err(fail("not a host name, IP address or CIDR range"));
        }
        Ok(AllowEntry::Host(host))
    }
}

impl fmt::Display for AllowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowEntry::Host(host) => f.write_str(host),
            AllowEntry::Net(net) => net.fmt(f),
        }
    }
}

impl Serialize for AllowEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AllowEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A list of entries, or one string of comma-separated entries.
fn allow_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<AllowEntry>, D::Error> {
    // Strings first, parsed after: an untagged enum would hide a bad entry's error.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<String>),
        Joined(String),
    }
    let entries = match Form::deserialize(deserializer)? {
        Form::List(entries) => entries,
        Form::Joined(text) => text
            .split(',')
            .filter(|entry| !entry.trim().is_empty())
            .map(str::to_string)
            .collect(),
    };
    entries
        .iter()
        .map(|entry| entry.parse().map_err(serde::de::Error::custom))
        .collect()
}

/// An IP range: the addresses whose first `prefix` bits equal `addr`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// The range of `prefix` bits around `addr` (its other bits cleared); `None` for a
    /// prefix longer than the address. An IPv4-mapped IPv6 range becomes the IPv4 one,
    /// as addresses are compared in their canonical form.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() && prefix >= 96 => {
                (addr.to_canonical(), prefix - 96)
            }
            _ => (addr, prefix),
        };
        match addr {
            IpAddr::V4(v4) if prefix <= 32 => Some(IpNet::v4(v4.octets(), prefix)),
            IpAddr::V6(v6) if prefix <= 128 => Some(IpNet::v6(v6.segments(), prefix)),
            _ => None,
        }
    }

    /// The range of `addr` alone (IPv4 for an IPv4-mapped address).
    pub fn single(addr: IpAddr) -> Self {
        match addr.to_canonical() {
            IpAddr::V4(v4) => IpNet::v4(v4.octets(), 32),
            IpAddr::V6(v6) => IpNet::v6(v6.segments(), 128),
        }
    }

    /// For constant tables; `prefix` must be at most 32.
    pub const fn v4(octets: [u8; 4], prefix: u8) -> Self {
        let bits = u32::from_be_bytes(octets) & mask32(prefix);
        IpNet {
            addr: IpAddr::V4(Ipv4Addr::from_bits(bits)),
            prefix,
        }
    }

    /// For constant tables; `prefix` must be at most 128.
    pub const fn v6(segments: [u16; 8], prefix: u8) -> Self {
        let [a, b, c, d, e, f, g, h] = segments;
        let bits = Ipv6Addr::new(a, b, c, d, e, f, g, h).to_bits() & mask128(prefix);
        IpNet {
            addr: IpAddr::V6(Ipv6Addr::from_bits(bits)),
            prefix,
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                ip.to_bits() & mask32(self.prefix) == net.to_bits()
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                ip.to_bits() & mask128(self.prefix) == net.to_bits()
            }
            _ => false,
        }
    }

    /// Whether the range is a single address.
    pub fn is_single(&self) -> bool {
        self.prefix == if self.addr.is_ipv4() { 32 } else { 128 }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.is_single() {
            true => self.addr.fmt(f),
            false => write!(f, "{}/{}", self.addr, self.prefix),
        }
    }
}

const fn mask32(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - p as u32),
    }
}

const fn mask128(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => u128::MAX << (128 - p as u32),
    }
}

/// An address, bracketed or not for IPv6.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(json: &str) -> Result<Vec<String>, String> {
        #[derive(Deserialize)]
        struct Holder {
            #[serde(deserialize_with = "allow_list")]
            allow: Vec<AllowEntry>,
        }
        serde_json::from_str::<Holder>(&format!("{{\"allow\": {json}}}"))
            .map(|h| h.allow.iter().map(ToString::to_string).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_allow_list_is_a_list_or_a_comma_separated_string() {
        let expected = ["127.0.0.0/8", "::1", "hooks.internal.example", "10.1.2.3"];
        assert_eq!(
            entries(r#"["127.0.0.0/8", "::1", "Hooks.Internal.Example.", "10.1.2.3"]"#).unwrap(),
            expected
        );
        assert_eq!(
            entries(r#""127.0.0.0/8, [::1],hooks.internal.example,10.1.2.3,""#).unwrap(),
            expected
        );
        assert_eq!(entries(r#""""#).unwrap(), Vec::<String>::new());
        assert_eq!(entries(r#""::ffff:10.0.0.0/104""#).unwrap(), ["10.0.0.0/8"]);
    }

    #[test]
    fn a_bad_entry_is_an_error_naming_it() {
        for (entry, reason) in [
            ("10.1.2.3/8", "bits are set past the prefix length"),
            ("2001:db8::1/32", "bits are set past the prefix length"),
            ("", "empty"),
            ("10.0.0.0/33", "too long"),
            ("10.0.0.0/x", "not a number"),
            ("hooks/8", "not an IP address"),
            ("*.example.com", "wildcards"),
            ("http://hooks.example", "give the host name alone"),
            ("hooks.example:8080", "not a host name"),
            ("a..b", "not a host name"),
        ] {
            let error = entries(&format!("[{entry:?}]")).unwrap_err();
            assert!(error.contains(entry), "{error}");
            assert!(error.contains(reason), "{entry}: {error}");
        }
    }

    #[test]
    fn ranges_contain_the_addresses_under_their_prefix() {
        let net = |s: &str| match s.parse::<AllowEntry>().unwrap() {
            AllowEntry::Net(net) => net,
            AllowEntry::Host(host) => panic!("{host} is not a range"),
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(net("127.0.0.0/8").contains(ip("127.255.0.1")));
        assert!(!net("127.0.0.0/8").contains(ip("128.0.0.1")));
        assert!(!net("127.0.0.0/8").contains(ip("::1")));
        assert!(net("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(net("fc00::/7").contains(ip("fdff::1")));
        assert!(!net("fc00::/7").contains(ip("fe00::1")));
        assert!(net("10.1.2.3").contains(ip("10.1.2.3")));
        assert!(!net("10.1.2.3").contains(ip("10.1.2.4")));
        assert!(net("10.1.2.3").is_single() && !net("10.1.2.0/24").is_single());
    }
}
