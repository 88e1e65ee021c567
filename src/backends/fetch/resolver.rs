//! Name resolution. [`HostResolver`] is the injectable lookup: the system resolver in
//! production, a fixed map in tests. `GuardedResolver` is what reqwest calls, and it hands the
//! connector only addresses that passed the address guard. Each connection resolves its host
//! once, so a DNS answer that changes between the check and the connect cannot slip through.

use super::guard::AddressPolicy;
use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Resolves host names to addresses.
#[async_trait]
pub trait HostResolver: Send + Sync + 'static {
    /// Returns the addresses of `host`, a domain name (IP literals never reach a resolver).
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo` on a blocking thread).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl HostResolver for SystemResolver {
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        let addresses = tokio::net::lookup_host((host, 0)).await?;
        Ok(addresses.map(|address| address.ip()).collect())
    }
}

/// A fixed map from host names to addresses, in which unknown names do not resolve. Tests use
/// it to point names at local servers.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    hosts: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `host` with `addresses`, replacing any earlier entry for it.
    pub fn with(mut self, host: &str, addresses: &[IpAddr]) -> Self {
        self.hosts
            .insert(host.to_ascii_lowercase(), addresses.to_vec());
        self
    }
}

#[async_trait]
impl HostResolver for StaticResolver {
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        let key = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.get(&key).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("host '{host}' is not in the static resolver"),
            )
        })
    }
}

/// The resolver that reqwest's connector calls: it resolves through the [`HostResolver`] and
/// returns only checked addresses, or a [`super::guard::BlockedAddress`] error that the
/// fetcher finds again in the request error's source chain.
pub(super) struct GuardedResolver {
    resolver: Arc<dyn HostResolver>,
    policy: Arc<AddressPolicy>,
}

impl GuardedResolver {
    pub(super) fn new(resolver: Arc<dyn HostResolver>, policy: Arc<AddressPolicy>) -> Self {
        Self { resolver, policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = Arc::clone(&self.resolver);
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = resolver.resolve(&host).await?;
            if addresses.is_empty() {
                let message = format!("host '{host}' resolved to no addresses");
                return Err(io::Error::new(io::ErrorKind::NotFound, message).into());
            }

            let checked = policy.check_resolved(&host, &addresses)?;
            tracing::debug!(host, addresses = ?checked, "resolved fetch target");
            // The connector replaces port 0 with the URL's port.
            let sockets = checked.into_iter().map(|ip| SocketAddr::new(ip, 0));
            Ok(Box::new(sockets) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::fetch::allow::Allowlist;
    use crate::backends::fetch::guard::BlockedAddress;

    fn guarded(resolver: StaticResolver, allow: &[&str]) -> GuardedResolver {
        let allow = Allowlist::parse(allow).expect("entries parse");
        GuardedResolver::new(Arc::new(resolver), Arc::new(AddressPolicy::new(allow)))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address parses")
    }

    async fn resolve(resolver: &GuardedResolver, host: &str) -> Result<Vec<SocketAddr>, String> {
        let name: Name = host.parse().map_err(|_| "invalid name".to_owned())?;
        match resolver.resolve(name).await {
            Ok(addresses) => Ok(addresses.collect()),
            Err(error) => match error.downcast_ref::<BlockedAddress>() {
                Some(blocked) => Err(format!("blocked {}", blocked.address)),
                None => Err(error.to_string()),
            },
        }
    }

    #[tokio::test]
    async fn private_answer_is_blocked() {
        let resolver = guarded(
            StaticResolver::new().with("evil.test", &[ip("10.0.0.1")]),
            &[],
        );
        let outcome = resolve(&resolver, "evil.test").await;
        assert_eq!(outcome, Err("blocked 10.0.0.1".to_owned()));
    }

    #[tokio::test]
    async fn allowlisted_answer_passes_with_port_zero() {
        let resolver = guarded(
            StaticResolver::new().with("site.test", &[ip("127.0.0.1")]),
            &["127.0.0.1/32"],
        );
        let outcome = resolve(&resolver, "site.test").await;
        assert_eq!(
            outcome,
            Ok(vec!["127.0.0.1:0".parse().expect("socket address")])
        );
    }

    #[tokio::test]
    async fn unknown_name_fails() {
        let resolver = guarded(StaticResolver::new(), &[]);
        let outcome = resolve(&resolver, "missing.test").await;
        let message = outcome.expect_err("unknown name");
        assert!(message.contains("missing.test"), "{message}");
    }

    #[tokio::test]
    async fn empty_answer_fails() {
        let resolver = guarded(StaticResolver::new().with("empty.test", &[]), &[]);
        let message = resolve(&resolver, "empty.test")
            .await
            .expect_err("no addresses");
        assert!(message.contains("no addresses"), "{message}");
    }
}
