//! The address guard: which hosts and addresses the fetcher may connect to. Every address must be
//! public (see [`super::ranges`]) unless the operator allowlist names its host or network.

use super::allow::Allowlist;
use super::ranges::{NonPublic, non_public_range};
use std::net::IpAddr;
use url::{Host, Url};

/// The decision to not connect to `address`, which `host` is or resolves to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("host '{host}' resolves to {address}, which {reason}; add it to fetcher.allow to fetch it")]
pub struct BlockedAddress {
    pub host: String,
    pub address: IpAddr,
    pub reason: NonPublic,
}

/// The allowlist together with the special-purpose ranges.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    allow: Allowlist,
}

impl AddressPolicy {
    pub fn new(allow: Allowlist) -> Self {
        Self { allow }
    }

    /// Checks a URL whose host is an IP literal. Connectors skip DNS for literals, so this check
    /// is the only one they get and must run before every request. Domain hosts pass here and
    /// are checked when they are resolved.
    pub fn check_literal_host(&self, url: &Url) -> Result<(), BlockedAddress> {
        let address = match url.host() {
            Some(Host::Ipv4(address)) => IpAddr::V4(address),
            Some(Host::Ipv6(address)) => IpAddr::V6(address),
            Some(Host::Domain(_)) | None => return Ok(()),
        };
        self.check_address(url.host_str().unwrap_or_default(), address)
    }

    /// Returns the addresses of `host` that may be connected to. A name with any non-public
    /// address is rejected as a whole, so that a DNS answer mixing a public and a private
    /// address cannot steer the connector to the private one.
    pub fn check_resolved(
        &self,
        host: &str,
        addresses: &[IpAddr],
    ) -> Result<Vec<IpAddr>, BlockedAddress> {
        if self.allow.allows_host(host) {
            return Ok(addresses.to_vec());
        }
        for &address in addresses {
            self.check_address(host, address)?;
        }
        Ok(addresses.to_vec())
    }

    /// Accepts `address` when it is public or in an allowed network.
    pub fn check_address(&self, host: &str, address: IpAddr) -> Result<(), BlockedAddress> {
        if self.allow.allows_address(address) {
            return Ok(());
        }
        match non_public_range(address) {
            None => Ok(()),
            Some(reason) => Err(BlockedAddress {
                host: host.to_owned(),
                address,
                reason,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> AddressPolicy {
        AddressPolicy::new(Allowlist::parse(entries).expect("entries parse"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address parses")
    }

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test URL parses")
    }

    #[test]
    fn literal_loopback_is_blocked() {
        let error = policy(&[])
            .check_literal_host(&url("http://127.0.0.1:8080/"))
            .expect_err("loopback");
        assert_eq!(error.host, "127.0.0.1");
        assert_eq!(error.address, ip("127.0.0.1"));
        assert_eq!(error.reason.range.to_string(), "127.0.0.0/8");
    }

    #[test]
    fn numeric_ipv4_forms_are_normalized_and_blocked() {
        let forms = [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://017700000001/",
            "http://0x7f000001/",
            "http://127.1/",
            "http://0177.0.0.1/",
            "http://0/",
        ];
        for form in forms {
            let parsed = url(form);
            let error = policy(&[]).check_literal_host(&parsed).expect_err(form);
            assert!(
                error.address.is_loopback() || error.address.is_unspecified(),
                "{form}"
            );
        }
    }

    #[test]
    fn literal_ipv6_forms_are_blocked() {
        let forms = [
            ("http://[::1]/", "::1"),
            ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            ("http://[::ffff:7f00:1]/", "::ffff:127.0.0.1"),
            ("http://[64:ff9b::a00:1]/", "64:ff9b::a00:1"),
            ("http://[fe80::1]/", "fe80::1"),
            ("http://[fd00::1]/", "fd00::1"),
        ];
        for (form, address) in forms {
            let error = policy(&[]).check_literal_host(&url(form)).expect_err(form);
            assert_eq!(error.address, ip(address), "{form}");
        }
    }

    #[test]
    fn literal_public_address_passes() {
        let guard = policy(&[]);
        assert!(
            guard
                .check_literal_host(&url("http://93.184.215.14/"))
                .is_ok()
        );
        assert!(
            guard
                .check_literal_host(&url("https://[2606:4700::1111]/"))
                .is_ok()
        );
    }

    #[test]
    fn domain_host_is_left_to_the_resolver() {
        let guard = policy(&[]);
        assert!(guard.check_literal_host(&url("http://localhost/")).is_ok());
    }

    #[test]
    fn resolved_private_address_blocks_name() {
        let error = policy(&[])
            .check_resolved("evil.test", &[ip("10.0.0.1")])
            .expect_err("private");
        assert_eq!(error.host, "evil.test");
        assert_eq!(error.address, ip("10.0.0.1"));
        assert_eq!(
            error.to_string(),
            "host 'evil.test' resolves to 10.0.0.1, which is in 10.0.0.0/8 \
             (private network, RFC 1918); add it to fetcher.allow to fetch it"
        );
    }

    #[test]
    fn one_private_answer_blocks_whole_name() {
        let answers = [ip("93.184.215.14"), ip("192.168.0.1")];
        let error = policy(&[])
            .check_resolved("mixed.test", &answers)
            .expect_err("mixed");
        assert_eq!(error.address, ip("192.168.0.1"));
    }

    #[test]
    fn public_answers_pass() {
        let answers = [
            ip("93.184.215.14"),
            ip("2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
        ];
        let allowed = policy(&[])
            .check_resolved("example.com", &answers)
            .expect("public");
        assert_eq!(allowed, answers);
    }

    #[test]
    fn allowed_network_passes_private_answer() {
        let guard = policy(&["127.0.0.1/32"]);
        let allowed = guard
            .check_resolved("site.test", &[ip("127.0.0.1")])
            .expect("allowed");
        assert_eq!(allowed, [ip("127.0.0.1")]);
        assert!(
            guard
                .check_resolved("site.test", &[ip("127.0.0.2")])
                .is_err()
        );
        assert!(
            guard
                .check_literal_host(&url("http://127.0.0.1:9/"))
                .is_ok()
        );
    }

    #[test]
    fn allowed_name_passes_any_answer() {
        let guard = policy(&["intranet.example"]);
        let allowed = guard
            .check_resolved("intranet.example", &[ip("10.0.0.7")])
            .expect("allowed");
        assert_eq!(allowed, [ip("10.0.0.7")]);
        assert!(
            guard
                .check_resolved("other.example", &[ip("10.0.0.7")])
                .is_err()
        );
        assert!(guard.check_literal_host(&url("http://10.0.0.7/")).is_err());
    }
}
