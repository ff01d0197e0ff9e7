//! Where the load goes: named listeners on loopback, and nowhere else.
//!
//! By default the `ibench serve` listeners on `127.0.0.1` at the seed's ports (8080 `full`,
//! 8081 `baseline`, 8082 `validation`, 8083 `logger`, 8084 `tracing`); a host, a port offset
//! and `NAME=URL` overrides change that. Anything that does not resolve to loopback is refused.
//!
//! ```
//! use interceptor_bench::load::target::Targets;
//!
//! let targets = Targets::seed("127.0.0.1", 10).unwrap().with("full=http://localhost:9000").unwrap();
//! assert_eq!(targets.get("baseline").unwrap().url(), "http://127.0.0.1:8091");
//! assert_eq!(targets.get("full").unwrap().addr().port(), 9000);
//! assert!(Targets::seed("example.com", 0).is_err());
//! assert!(targets.with("full=http://10.0.0.1:8080").unwrap_err().contains("loopback"));
//! ```

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};

use crate::connect::Protocol;
use crate::stack::SEED_LAYOUT;

/// One listener to load: its URL, the loopback address it resolved to, and the protocol to
/// speak (Connect JSON unless [`Target::with_protocol`] says otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    url: String,
    addr: SocketAddr,
    authority: String,
    path_prefix: String,
    protocol: Protocol,
}

impl Target {
    /// Parses `http://HOST:PORT[/PREFIX]`, resolves `HOST` and refuses anything not on loopback.
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: http::Uri = url.parse().map_err(|error| format!("bad URL {url:?}: {error}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("bad URL {url:?}: only http:// (cleartext, loopback) is supported"));
        }
        let authority = uri.authority().ok_or_else(|| format!("bad URL {url:?}: no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|error| format!("cannot resolve {host:?} in {url:?}: {error}"))?
            .collect();
        let addr = match addrs.iter().find(|addr| !addr.ip().is_loopback()) {
            Some(outside) => {
                return Err(format!(
                    "refusing to load {url:?}: {host} resolves to {}, which is not loopback; ibench load only ever targets 127.0.0.1, ::1 or localhost",
                    outside.ip()
                ));
            }
            None => *addrs.first().ok_or_else(|| format!("{host:?} in {url:?} resolves to nothing"))?,
        };
        let path_prefix = uri.path().trim_end_matches('/').to_owned();
        Ok(Target {
            url: url.trim_end_matches('/').to_owned(),
            addr,
            authority: authority.to_string(),
            path_prefix,
            protocol: Protocol::default(),
        })
    }

    /// The same listener, called in `protocol`.
    ///
    /// ```
    /// use interceptor_bench::connect::Protocol;
    /// use interceptor_bench::load::Target;
    ///
    /// let target = Target::parse("http://127.0.0.1:8081").unwrap();
    /// assert_eq!(target.protocol(), Protocol::ConnectJson);
    /// assert_eq!(target.with_protocol(Protocol::Grpc).protocol(), Protocol::Grpc);
    /// ```
    pub fn with_protocol(mut self, protocol: Protocol) -> Target {
        self.protocol = protocol;
        self
    }

    /// The protocol its calls speak.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The loopback address connected to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `Host` header value.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The URL's own path, `/` when it has none.
    pub fn base_path(&self) -> &str {
        if self.path_prefix.is_empty() { "/" } else { &self.path_prefix }
    }

    /// The path of `procedure` on this target.
    pub fn path(&self, procedure: &str) -> String {
        format!("{}/{procedure}", self.path_prefix)
    }
}

/// Named targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    by_name: BTreeMap<String, Target>,
}

impl Targets {
    /// No targets.
    pub fn new() -> Self {
        Targets::default()
    }

    /// The seed's five listeners on `host` at ports 8080 + `port_offset` onwards, as `ibench serve --port-offset` binds them.
    pub fn seed(host: &str, port_offset: u16) -> Result<Targets, String> {
        let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() };
        let mut targets = Targets::new();
        for listener in SEED_LAYOUT {
            let port = listener
                .port
                .checked_add(port_offset)
                .ok_or_else(|| format!("--port-offset {port_offset} puts the seed ports past 65535"))?;
            targets.by_name.insert(listener.name.to_owned(), Target::parse(&format!("http://{host}:{port}"))?);
        }
        Ok(targets)
    }

    /// Adds or replaces one target from `NAME=URL`.
    pub fn with(mut self, name_equals_url: &str) -> Result<Targets, String> {
        let (name, url) = name_equals_url.split_once('=').filter(|(name, _)| !name.is_empty()).ok_or_else(|| {
            format!("bad target {name_equals_url:?}: expected NAME=URL, e.g. full=http://127.0.0.1:8080")
        })?;
        self.by_name.insert(name.to_owned(), Target::parse(url)?);
        Ok(self)
    }

    /// The target called `name`.
    pub fn get(&self, name: &str) -> Option<&Target> {
        self.by_name.get(name)
    }

    /// Every target, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Target)> {
        self.by_name.iter().map(|(name, target)| (name.as_str(), target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_only() {
        for good in ["http://127.0.0.1:1", "http://127.0.0.2:1", "http://[::1]:1", "http://localhost:1/prefix/"] {
            Target::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in
            ["http://10.1.2.3:80", "http://8.8.8.8", "https://127.0.0.1:1", "127.0.0.1:8080", "http://0.0.0.0:80"]
        {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Target::parse("http://localhost:1/prefix/").unwrap().path("a.B/C"), "/prefix/a.B/C");
    }

    #[test]
    fn seed_ports_follow_the_offset() {
        let targets = Targets::seed("::1", 100).unwrap();
        assert_eq!(targets.get("full").unwrap().addr().port(), 8180);
        assert_eq!(targets.get("tracing").unwrap().addr().port(), 8184);
        assert!(Targets::seed("127.0.0.1", 65000).is_err());
        assert!(Targets::new().with("nourl").is_err());
        assert!(Targets::new().with("=http://127.0.0.1:1").is_err());
    }
}
