//! The client address of a request: the socket peer, or, when the peer is a trusted proxy, the
//! first untrusted address in `X-Forwarded-For` walking from the right.

use http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// Proxies whose `X-Forwarded-For` entries are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|network| network.contains(&address))
    }

    /// Returns the client address. Each proxy appends the address it received the request from,
    /// so entries are read from the right, skipping trusted hops; the first untrusted entry is
    /// the client. An unreadable entry stops the walk at the last address known to be genuine.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        let entries = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect::<Vec<_>>();
        for entry in entries.iter().rev() {
            let Some(address) = parse_entry(entry) else {
                return client;
            };
            client = address;
            if !self.contains(address) {
                return address;
            }
        }
        client
    }
}

/// Parses one `X-Forwarded-For` entry: an address, possibly with a port or in brackets.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some(canonical(socket.ip()));
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.split(']').next())
        .and_then(|inner| inner.parse().ok())
        .map(canonical)
}

/// Treats IPv4-mapped IPv6 addresses as the IPv4 address they carry.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(address),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", value.parse().expect("header value"));
        }
        map
    }

    fn trusted() -> TrustedProxies {
        TrustedProxies::new(vec![
            "10.0.0.0/8".parse().expect("net"),
            "127.0.0.1/32".parse().expect("net"),
        ])
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_forwards() {
        let client = trusted().client_ip(ip("203.0.113.9"), &headers(&["1.2.3.4"]));
        assert_eq!(client, ip("203.0.113.9"));
    }

    #[test]
    fn walks_from_the_right_past_trusted_hops() {
        let forwarded = headers(&["198.51.100.1, 203.0.113.5, 10.1.1.1"]);
        assert_eq!(
            trusted().client_ip(ip("10.0.0.2"), &forwarded),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn spoofed_leftmost_entries_are_ignored() {
        // The client sent "1.1.1.1" itself; the trusted proxy appended the real address.
        let forwarded = headers(&["1.1.1.1", "203.0.113.5"]);
        assert_eq!(
            trusted().client_ip(ip("127.0.0.1"), &forwarded),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn all_trusted_gives_the_leftmost() {
        let forwarded = headers(&["10.9.9.9, 10.1.1.1"]);
        assert_eq!(
            trusted().client_ip(ip("10.0.0.2"), &forwarded),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn garbage_stops_at_the_last_genuine_hop() {
        let forwarded = headers(&["203.0.113.5, not-an-ip, 10.1.1.1"]);
        assert_eq!(
            trusted().client_ip(ip("10.0.0.2"), &forwarded),
            ip("10.1.1.1")
        );
        assert_eq!(
            trusted().client_ip(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn reads_ports_brackets_and_mapped_addresses() {
        let forwarded = headers(&["[2001:db8::1]:443, 203.0.113.5:8080"]);
        assert_eq!(
            trusted().client_ip(ip("::ffff:10.0.0.2"), &forwarded),
            ip("203.0.113.5")
        );
        let forwarded = headers(&["[2001:db8::1]:443"]);
        assert_eq!(
            trusted().client_ip(ip("10.0.0.2"), &forwarded),
            ip("2001:db8::1")
        );
    }
}
