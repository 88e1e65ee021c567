//! The special-purpose address ranges that the fetcher never connects to, after the IANA IPv4
//! and IPv6 Special-Purpose Address Registries (RFC 6890 and its updates). An IPv6 address that
//! embeds an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) is judged by the embedded
//! address too, because a connection to it can reach that IPv4 host.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The reason an address is not public: the special-purpose range that contains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonPublic {
    /// The range, such as `10.0.0.0/8`.
    pub range: IpNet,
    /// The purpose of the range and its source, such as "private network, RFC 1918".
    pub purpose: &'static str,
    /// The IPv4 address inside an IPv6 address, when the IPv4 address is the non-public part.
    pub embedded: Option<Ipv4Addr>,
}

impl fmt::Display for NonPublic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.embedded {
            Some(inner) => write!(
                formatter,
                "embeds {inner}, which is in {} ({})",
                self.range, self.purpose
            ),
            None => write!(formatter, "is in {} ({})", self.range, self.purpose),
        }
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(segments: [u16; 8], prefix: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

/// Non-public IPv4 ranges. The first match is reported, so narrower ranges come first.
const IPV4_RANGES: [(Ipv4Net, &str); 17] = [
    (v4(0, 0, 0, 0, 32), "unspecified address, RFC 1122"),
    (v4(0, 0, 0, 0, 8), "\"this network\", RFC 791"),
    (v4(10, 0, 0, 0, 8), "private network, RFC 1918"),
    (
        v4(100, 64, 0, 0, 10),
        "carrier-grade NAT shared space, RFC 6598",
    ),
    (v4(127, 0, 0, 0, 8), "loopback, RFC 1122"),
    (v4(169, 254, 0, 0, 16), "link-local, RFC 3927"),
    (v4(172, 16, 0, 0, 12), "private network, RFC 1918"),
    (v4(192, 0, 0, 0, 24), "IETF protocol assignments, RFC 6890"),
    (v4(192, 0, 2, 0, 24), "documentation TEST-NET-1, RFC 5737"),
    (
        v4(192, 88, 99, 0, 24),
        "former 6to4 relay anycast, RFC 7526",
    ),
    (v4(192, 168, 0, 0, 16), "private network, RFC 1918"),
    (v4(198, 18, 0, 0, 15), "benchmarking, RFC 2544"),
    (
        v4(198, 51, 100, 0, 24),
        "documentation TEST-NET-2, RFC 5737",
    ),
    (v4(203, 0, 113, 0, 24), "documentation TEST-NET-3, RFC 5737"),
    (v4(224, 0, 0, 0, 4), "multicast, RFC 5771"),
    (v4(255, 255, 255, 255, 32), "limited broadcast, RFC 919"),
    (v4(240, 0, 0, 0, 4), "reserved, RFC 1112"),
];

/// Non-public IPv6 ranges that embed no IPv4 address. The first match is reported.
const IPV6_RANGES: [(Ipv6Net, &str); 14] = [
    (
        v6([0, 0, 0, 0, 0, 0, 0, 0], 128),
        "unspecified address, RFC 4291",
    ),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback, RFC 4291"),
    (
        v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        "local-use NAT64, RFC 8215",
    ),
    (
        v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
        "discard-only, RFC 6666",
    ),
    (
        v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64),
        "dummy prefix, RFC 9780",
    ),
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32), "Teredo, RFC 4380"),
    (
        v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        "IETF protocol assignments, RFC 2928",
    ),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        "documentation, RFC 3849",
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        "documentation, RFC 9637",
    ),
    (
        v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),
        "segment routing SIDs, RFC 9602",
    ),
    (
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "unique local, RFC 4193",
    ),
    (
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        "link-local, RFC 4291",
    ),
    (
        v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "site-local, RFC 3879",
    ),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast, RFC 4291"),
];

const IPV4_MAPPED: Ipv6Net = v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96);
const IPV4_COMPATIBLE: Ipv6Net = v6([0, 0, 0, 0, 0, 0, 0, 0], 96);
const IPV4_TRANSLATED: Ipv6Net = v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96);
const NAT64_WELL_KNOWN: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
const SIX_TO_FOUR: Ipv6Net = v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);
const GLOBAL_UNICAST: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

/// Returns the range that makes `address` non-public, or `None` for a public address.
pub fn non_public_range(address: IpAddr) -> Option<NonPublic> {
    match address {
        IpAddr::V4(address) => non_public_v4(address),
        IpAddr::V6(address) => non_public_v6(address),
    }
}

fn non_public_v4(address: Ipv4Addr) -> Option<NonPublic> {
    IPV4_RANGES
        .iter()
        .find(|(range, _)| range.contains(&address))
        .map(|&(range, purpose)| NonPublic {
            range: IpNet::V4(range),
            purpose,
            embedded: None,
        })
}

fn non_public_v6(address: Ipv6Addr) -> Option<NonPublic> {
    if let Some(found) = IPV6_RANGES
        .iter()
        .find(|(range, _)| range.contains(&address))
    {
        return Some(range_v6(found.0, found.1));
    }

    // A connection to these reaches the embedded IPv4 host (mapped through the local stack,
    // NAT64 through a translator, 6to4 through a relay), so a public IPv4 inside is allowed.
    if IPV4_MAPPED.contains(&address) || NAT64_WELL_KNOWN.contains(&address) {
        return embedded_non_public(low_ipv4(address));
    }
    if SIX_TO_FOUR.contains(&address) {
        return embedded_non_public(six_to_four_ipv4(address));
    }

    // Deprecated forms that no network routes. The embedded address is named when it is the
    // worse part, so that ::127.0.0.1 reads as loopback.
    for (range, purpose) in [
        (IPV4_COMPATIBLE, "deprecated IPv4-compatible, RFC 4291"),
        (IPV4_TRANSLATED, "IPv4-translated, RFC 2765"),
    ] {
        if range.contains(&address) {
            let embedded = embedded_non_public(low_ipv4(address));
            return embedded.or(Some(range_v6(range, purpose)));
        }
    }

    if !GLOBAL_UNICAST.contains(&address) {
        let block = Ipv6Net::new_assert(address, 3).trunc();
        return Some(range_v6(
            block,
            "reserved, outside global unicast 2000::/3, RFC 4291",
        ));
    }
    None
}

fn range_v6(range: Ipv6Net, purpose: &'static str) -> NonPublic {
    NonPublic {
        range: IpNet::V6(range),
        purpose,
        embedded: None,
    }
}

fn embedded_non_public(inner: Ipv4Addr) -> Option<NonPublic> {
    non_public_v4(inner).map(|found| NonPublic {
        embedded: Some(inner),
        ..found
    })
}

/// Extracts the IPv4 address in the last 32 bits, as in ::ffff:a.b.c.d and 64:ff9b::a.b.c.d.
fn low_ipv4(address: Ipv6Addr) -> Ipv4Addr {
    let [.., a, b, c, d] = address.octets();
    Ipv4Addr::new(a, b, c, d)
}

/// Extracts the IPv4 address in bits 16 to 48 of a 6to4 address 2002:AABB:CCDD::/48.
fn six_to_four_ipv4(address: Ipv6Addr) -> Ipv4Addr {
    let octets = address.octets();
    Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range_of(address: &str) -> Option<String> {
        let address: IpAddr = address.parse().expect("test address parses");
        non_public_range(address).map(|found| found.range.to_string())
    }

    #[test]
    fn ipv4_special_ranges() {
        let cases = [
            ("0.0.0.0", "0.0.0.0/32"),
            ("0.1.2.3", "0.0.0.0/8"),
            ("10.0.0.1", "10.0.0.0/8"),
            ("10.255.255.255", "10.0.0.0/8"),
            ("100.64.0.0", "100.64.0.0/10"),
            ("100.127.255.255", "100.64.0.0/10"),
            ("127.0.0.1", "127.0.0.0/8"),
            ("127.255.255.254", "127.0.0.0/8"),
            ("169.254.169.254", "169.254.0.0/16"),
            ("172.16.0.1", "172.16.0.0/12"),
            ("172.31.255.255", "172.16.0.0/12"),
            ("192.0.0.8", "192.0.0.0/24"),
            ("192.0.2.1", "192.0.2.0/24"),
            ("192.88.99.1", "192.88.99.0/24"),
            ("192.168.1.1", "192.168.0.0/16"),
            ("198.18.0.1", "198.18.0.0/15"),
            ("198.19.255.255", "198.18.0.0/15"),
            ("198.51.100.7", "198.51.100.0/24"),
            ("203.0.113.9", "203.0.113.0/24"),
            ("224.0.0.1", "224.0.0.0/4"),
            ("239.255.255.250", "224.0.0.0/4"),
            ("240.0.0.1", "240.0.0.0/4"),
            ("255.255.255.254", "240.0.0.0/4"),
            ("255.255.255.255", "255.255.255.255/32"),
        ];
        for (address, range) in cases {
            assert_eq!(range_of(address).as_deref(), Some(range), "{address}");
        }
    }

    #[test]
    fn ipv4_public_neighbours_pass() {
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ];
        for address in public {
            assert_eq!(range_of(address), None, "{address}");
        }
    }

    #[test]
    fn ipv6_special_ranges() {
        let cases = [
            ("::", "::/128"),
            ("::1", "::1/128"),
            ("64:ff9b:1::a00:1", "64:ff9b:1::/48"),
            ("100::1", "100::/64"),
            ("100:0:0:1::1", "100:0:0:1::/64"),
            ("2001::1", "2001::/32"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::/32"),
            ("2001:2::1", "2001::/23"),
            ("2001:db8::1", "2001:db8::/32"),
            ("3fff::1", "3fff::/20"),
            ("5f00::1", "5f00::/16"),
            ("fc00::1", "fc00::/7"),
            ("fd12:3456::1", "fc00::/7"),
            ("fe80::1", "fe80::/10"),
            ("febf::1", "fe80::/10"),
            ("fec0::1", "fec0::/10"),
            ("ff02::1", "ff00::/8"),
            ("::ffff:0:8.8.8.8", "::ffff:0:0:0/96"),
            ("::8.8.8.8", "::/96"),
            ("1::1", "::/3"),
            ("4000::1", "4000::/3"),
            ("e000::1", "e000::/3"),
        ];
        for (address, range) in cases {
            assert_eq!(range_of(address).as_deref(), Some(range), "{address}");
        }
    }

    #[test]
    fn ipv6_embedding_private_ipv4_names_it() {
        let cases = [
            ("::ffff:127.0.0.1", "127.0.0.1", "127.0.0.0/8"),
            ("::ffff:10.0.0.1", "10.0.0.1", "10.0.0.0/8"),
            (
                "::ffff:169.254.169.254",
                "169.254.169.254",
                "169.254.0.0/16",
            ),
            ("::127.0.0.1", "127.0.0.1", "127.0.0.0/8"),
            ("::ffff:0:192.168.0.1", "192.168.0.1", "192.168.0.0/16"),
            ("64:ff9b::7f00:1", "127.0.0.1", "127.0.0.0/8"),
            ("64:ff9b::100.64.0.1", "100.64.0.1", "100.64.0.0/10"),
            ("2002:7f00:1::", "127.0.0.1", "127.0.0.0/8"),
            ("2002:a00:1:1::1", "10.0.0.1", "10.0.0.0/8"),
            ("2002:c0a8:101::", "192.168.1.1", "192.168.0.0/16"),
        ];
        for (address, inner, range) in cases {
            let parsed: IpAddr = address.parse().expect("test address parses");
            let found = non_public_range(parsed).expect(address);
            assert_eq!(
                found.embedded.map(|ip| ip.to_string()).as_deref(),
                Some(inner)
            );
            assert_eq!(found.range.to_string(), range, "{address}");
        }
    }

    #[test]
    fn ipv6_embedding_public_ipv4_passes() {
        for address in ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"] {
            assert_eq!(range_of(address), None, "{address}");
        }
    }

    #[test]
    fn ipv6_global_unicast_passes() {
        for address in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:4860::8888",
        ] {
            assert_eq!(range_of(address), None, "{address}");
        }
    }

    #[test]
    fn message_names_range_and_purpose() {
        let found = non_public_range("::ffff:10.1.2.3".parse().expect("parses")).expect("private");
        assert_eq!(
            found.to_string(),
            "embeds 10.1.2.3, which is in 10.0.0.0/8 (private network, RFC 1918)"
        );
    }
}
