//! The operator allowlist (`fetcher.allow`): host names and CIDRs that the address guard lets
//! through, for intranets and for tests that fetch from local servers.

use ipnet::IpNet;
use std::net::IpAddr;
use url::Host;

/// Host names and networks that may be fetched although they are not public.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    /// Exact host names, lowercase, without a trailing dot.
    hosts: Vec<String>,
    /// Parent domains of `*.example` entries, which match every subdomain but not the domain itself.
    domain_suffixes: Vec<String>,
    networks: Vec<IpNet>,
}

/// An allowlist entry that is neither a host name, an IP address nor a CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "fetcher.allow entry '{entry}' is invalid: {reason}; use a host name such as \
     intranet.example, a wildcard such as *.corp.example, or a CIDR such as 10.1.0.0/16"
)]
pub struct InvalidAllowEntry {
    pub entry: String,
    pub reason: String,
}

impl Allowlist {
    /// Parses entries such as `127.0.0.1/32`, `::1`, `intranet.example` and `*.corp.example`.
    /// A bare IP address is a one-address network.
    pub fn parse<I, S>(entries: I) -> Result<Self, InvalidAllowEntry>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut allowlist = Self::default();
        for entry in entries {
            allowlist.add(entry.as_ref().trim())?;
        }
        Ok(allowlist)
    }

    /// Returns whether the list has no entries, so that only public addresses are fetched.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.domain_suffixes.is_empty() && self.networks.is_empty()
    }

    /// Returns whether `host`, a domain name as the `url` crate serializes it, matches a name
    /// entry.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = normalize_name(host);
        if self.hosts.contains(&host) {
            return true;
        }
        self.domain_suffixes.iter().any(|parent| {
            host.strip_suffix(parent.as_str())
                .is_some_and(|label| label.len() > 1 && label.ends_with('.'))
        })
    }

    /// Returns whether `address` lies in a network entry. An IPv4-mapped IPv6 address matches as its
    /// IPv4 address, so `127.0.0.1/32` also allows `::ffff:127.0.0.1`.
    pub fn allows_address(&self, address: IpAddr) -> bool {
        let canonical = address.to_canonical();
        self.networks
            .iter()
            .any(|network| network.contains(&address) || network.contains(&canonical))
    }

    fn add(&mut self, entry: &str) -> Result<(), InvalidAllowEntry> {
        let invalid = |reason: &str| InvalidAllowEntry {
            entry: entry.to_owned(),
            reason: reason.to_owned(),
        };
        if entry.is_empty() {
            return Err(invalid("it is empty"));
        }

        if entry.contains('/') {
            let network: IpNet = entry
                .parse()
                .map_err(|_| invalid("it is not a CIDR network"))?;
            self.networks.push(network.trunc());
            return Ok(());
        }
        if let Ok(address) = entry.parse::<IpAddr>() {
            self.networks.push(IpNet::from(address));
            return Ok(());
        }

        let (wildcard, name) = match entry.strip_prefix("*.") {
            Some(parent) => (true, parent),
            None => (false, entry),
        };
        let name = parse_domain(name).map_err(|reason| invalid(&reason))?;
        if wildcard {
            self.domain_suffixes.push(name);
        } else {
            self.hosts.push(name);
        }
        Ok(())
    }
}

/// Parses a host name the way URLs parse it (lowercase, IDNA to punycode), so that entries
/// compare equal to the hosts of parsed URLs.
fn parse_domain(name: &str) -> Result<String, String> {
    match Host::parse(name) {
        Ok(Host::Domain(domain)) if !domain.contains('*') => Ok(normalize_name(&domain)),
        Ok(Host::Domain(_)) => {
            Err("a wildcard is allowed only as the first label, as in *.example".to_owned())
        }
        Ok(_) => Err(
            "it is an IP address in a form other than dotted decimal or IPv6; write it as a CIDR"
                .to_owned(),
        ),
        Err(error) => Err(format!("it is not a host name ({error})")),
    }
}

fn normalize_name(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowlist(entries: &[&str]) -> Allowlist {
        Allowlist::parse(entries).expect("entries parse")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address parses")
    }

    #[test]
    fn cidr_entries_match_addresses() {
        let list = allowlist(&["127.0.0.1/32", "10.1.0.0/16", "fd00::/8"]);
        assert!(list.allows_address(ip("127.0.0.1")));
        assert!(!list.allows_address(ip("127.0.0.2")));
        assert!(list.allows_address(ip("10.1.200.3")));
        assert!(!list.allows_address(ip("10.2.0.1")));
        assert!(list.allows_address(ip("fd00::5")));
        assert!(!list.allows_address(ip("fe80::1")));
    }

    #[test]
    fn bare_address_is_single_host_network() {
        let list = allowlist(&["192.168.1.10", "::1"]);
        assert!(list.allows_address(ip("192.168.1.10")));
        assert!(!list.allows_address(ip("192.168.1.11")));
        assert!(list.allows_address(ip("::1")));
    }

    #[test]
    fn ipv4_entry_matches_mapped_ipv6() {
        let list = allowlist(&["127.0.0.1/32"]);
        assert!(list.allows_address(ip("::ffff:127.0.0.1")));
    }

    #[test]
    fn cidr_with_host_bits_is_truncated() {
        let list = allowlist(&["10.1.2.3/16"]);
        assert!(list.allows_address(ip("10.1.99.99")));
    }

    #[test]
    fn host_entries_match_names_exactly() {
        let list = allowlist(&["Intranet.Example", "site.test."]);
        assert!(list.allows_host("intranet.example"));
        assert!(list.allows_host("intranet.example."));
        assert!(list.allows_host("site.test"));
        assert!(!list.allows_host("www.intranet.example"));
        assert!(!list.allows_host("intranet.example.com"));
        assert!(!list.allows_address(ip("127.0.0.1")));
    }

    #[test]
    fn wildcard_matches_subdomains_only() {
        let list = allowlist(&["*.corp.example"]);
        assert!(list.allows_host("wiki.corp.example"));
        assert!(list.allows_host("a.b.corp.example"));
        assert!(!list.allows_host("corp.example"));
        assert!(!list.allows_host("evilcorp.example"));
    }

    #[test]
    fn unicode_entry_matches_punycode_host() {
        let list = allowlist(&["bücher.example"]);
        assert!(list.allows_host("xn--bcher-kva.example"));
    }

    #[test]
    fn invalid_entries_are_rejected() {
        for entry in ["10.0.0.0/33", "not a host", "", "a.*.example", "http://x/"] {
            let error = Allowlist::parse([entry]).expect_err(entry);
            assert_eq!(error.entry, entry.trim());
            assert!(error.to_string().contains("fetcher.allow entry"), "{error}");
        }
    }

    #[test]
    fn empty_list_allows_nothing() {
        let list = allowlist(&[]);
        assert!(list.is_empty());
        assert!(!list.allows_host("localhost"));
        assert!(!list.allows_address(ip("127.0.0.1")));
    }
}
