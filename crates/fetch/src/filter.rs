//! The import URL guard, Glance's `[import_filtering_opts]` made pure: which schemes,
//! ports and hosts a web-download or location URL may name, and which addresses it may
//! lead to. No I/O here: the fetcher resolves names and asks [`ImportFilter::check_address`]
//! about each answer, and the gateway calls [`ImportFilter::check_url`] before its 202.

use super::address::{AddressClass, classify};
use std::net::IpAddr;
use url::{Host, Url};

/// The schemes the fetcher speaks: a configured list can narrow these, never widen them.
const FETCHABLE_SCHEMES: [&str; 2] = ["http", "https"];

/// Why a URL (or a redirect, or an address it resolved to) may not be fetched. The
/// messages are written for the user who sent the URL: they end up in 400 responses and in
/// failed tasks. They name the host the user gave, never an address it resolved to, so
/// the service does not answer questions about its internal DNS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    /// Not a URL at all.
    #[error("the URL is not valid: {0}")]
    Invalid(#[from] url::ParseError),
    /// A scheme other than the allowed ones (http and https at most).
    #[error("the URL scheme '{0}' is not allowed for imports")]
    Scheme(String),
    /// No host to fetch from.
    #[error("the URL has no host")]
    NoHost,
    /// An explicit or default port outside the allowed list.
    #[error("port {0} is not allowed for imports")]
    Port(u16),
    /// The allowed-hosts list is not empty and the host is not in it.
    #[error("the host '{0}' is not one imports may use")]
    HostNotAllowed(String),
    /// The host is in the disallowed-hosts list.
    #[error("the host '{0}' is disallowed for imports")]
    HostDisallowed(String),
    /// `localhost` or a name under `.localhost` (RFC 6761: always this machine).
    #[error("the host '{0}' names this machine, which imports may not reach")]
    LocalName(String),
    /// The host is a literal address of a refused class.
    #[error("the host '{host}' is a {class} address, which imports may not reach")]
    Address {
        /// The host as the URL gave it.
        host: String,
        /// The address (for logs; not in the message).
        ip: IpAddr,
        /// Why the address is refused.
        class: AddressClass,
    },
    /// The host name resolved to an address of a refused class.
    #[error("the host '{host}' resolves to a {class} address, which imports may not reach")]
    ResolvedAddress {
        /// The host name as the URL gave it.
        host: String,
        /// The refused answer (for logs; not in the message).
        ip: IpAddr,
        /// Why the address is refused.
        class: AddressClass,
    },
}

/// A host as compared against the allowed and disallowed lists: addresses in canonical
/// form (so `[::ffff:10.0.0.1]` matches `10.0.0.1`), names lower-case, punycode, without
/// the root's trailing dot (so `evil.example.` cannot dodge `evil.example`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostKey {
    Ip(IpAddr),
    Name(String),
}

impl HostKey {
    /// The key of a configured entry or a host string; `None` for an empty entry.
    fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        if entry.is_empty() {
            return None;
        }
        let bare = entry.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Some(Self::Ip(ip.to_canonical()));
        }
        // The URL host parser, so `0x7f.1` in a list means what it means in a URL.
        Some(match Host::parse(entry) {
            Ok(host) => Self::of_host(&host),
            Err(_) => Self::Name(entry.to_ascii_lowercase()),
        })
    }

    fn of_host<S: AsRef<str>>(host: &Host<S>) -> Self {
        match host {
            Host::Domain(name) => {
                let name = name.as_ref();
                Self::Name(name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase())
            }
            Host::Ipv4(ip) => Self::Ip(IpAddr::V4(*ip)),
            Host::Ipv6(ip) => Self::Ip(IpAddr::V6(*ip).to_canonical()),
        }
    }
}

/// The import URL policy: allowed schemes, allowed and disallowed hosts, allowed ports,
/// and the refused address classes (which a host in the allowed list is exempt from).
/// Empty allowed lists mean "any" as in Glance; schemes are always limited to http(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFilter {
    allowed_schemes: Vec<String>,
    allowed_hosts: Vec<HostKey>,
    disallowed_hosts: Vec<HostKey>,
    allowed_ports: Vec<u16>,
}

impl Default for ImportFilter {
    /// Glance's defaults: http and https, any host, ports 80 and 443.
    fn default() -> Self {
        Self {
            allowed_schemes: FETCHABLE_SCHEMES.map(String::from).to_vec(),
            allowed_hosts: Vec::new(),
            disallowed_hosts: Vec::new(),
            allowed_ports: vec![80, 443],
        }
    }
}

impl ImportFilter {
    /// Replaces the allowed schemes (compared case-insensitively; an empty list means
    /// http and https).
    pub fn with_allowed_schemes<I, S>(mut self, schemes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.allowed_schemes = schemes
            .into_iter()
            .map(|s| s.as_ref().trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        self
    }

    /// Replaces the allowed hosts (empty: any host). A host in this list is also exempt
    /// from the address-class check: that is how an operator allows an internal mirror.
    pub fn with_allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.allowed_hosts = hosts
            .into_iter()
            .filter_map(|h| HostKey::parse(h.as_ref()))
            .collect();
        self
    }

    /// Replaces the disallowed hosts (exact names or addresses; wins over the allowed list).
    pub fn with_disallowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.disallowed_hosts = hosts
            .into_iter()
            .filter_map(|h| HostKey::parse(h.as_ref()))
            .collect();
        self
    }

    /// Replaces the allowed ports (empty: any port).
    pub fn with_allowed_ports<I: IntoIterator<Item = u16>>(mut self, ports: I) -> Self {
        self.allowed_ports = ports.into_iter().collect();
        self
    }

    /// Adds one host to the allowed list (and so exempts it from the address check).
    pub fn allow_host(mut self, host: &str) -> Self {
        self.allowed_hosts.extend(HostKey::parse(host));
        self
    }

    /// Adds one port to the allowed list.
    pub fn allow_port(mut self, port: u16) -> Self {
        self.allowed_ports.push(port);
        self
    }

    /// Adds one host to the disallowed list.
    pub fn disallow_host(mut self, host: &str) -> Self {
        self.disallowed_hosts.extend(HostKey::parse(host));
        self
    }

    /// Checks everything a URL says by itself: scheme, port, host lists, and the class of
    /// a literal address or a name that always means this machine. A name's addresses
    /// are checked by the fetcher when it resolves them ([`Self::check_address`]).
    ///
    /// The `url` crate normalises special-scheme hosts first, so `http://2130706433/`,
    /// `http://0x7f.1/` and `http://0177.0.0.1/` are all checked as 127.0.0.1.
    pub fn check_url(&self, raw: &str) -> Result<Url, UrlRefusal> {
        let url = Url::parse(raw.trim())?;
        let scheme = url.scheme();
        let fetchable = FETCHABLE_SCHEMES.contains(&scheme);
        let listed =
            self.allowed_schemes.is_empty() || self.allowed_schemes.iter().any(|s| s == scheme);
        if !fetchable || !listed {
            return Err(UrlRefusal::Scheme(scheme.to_owned()));
        }
        let (Some(host), Some(host_str)) = (url.host(), url.host_str()) else {
            return Err(UrlRefusal::NoHost);
        };
        // http(s) always has a known default port, so the default is checked too: an
        // operator who allows only 443 means https only.
        let port = url.port_or_known_default().ok_or(UrlRefusal::NoHost)?;
        if !self.allowed_ports.is_empty() && !self.allowed_ports.contains(&port) {
            return Err(UrlRefusal::Port(port));
        }
        let key = HostKey::of_host(&host);
        self.check_lists(&key, host_str)?;
        if self.allowed_hosts.contains(&key) {
            return Ok(url);
        }
        match key {
            HostKey::Ip(ip) => {
                if let Some(class) = classify(ip) {
                    return Err(UrlRefusal::Address {
                        host: host_str.to_owned(),
                        ip,
                        class,
                    });
                }
            }
            HostKey::Name(name) => {
                if name == "localhost" || name.ends_with(".localhost") {
                    return Err(UrlRefusal::LocalName(host_str.to_owned()));
                }
            }
        }
        Ok(url)
    }

    /// Checks one address that `host` (a URL's host, as `Url::host_str` gives it)
    /// resolved to: refused if its class is refused, unless `host` is in the allowed list.
    pub fn check_address(&self, host: &str, ip: IpAddr) -> Result<(), UrlRefusal> {
        if HostKey::parse(host).is_some_and(|key| self.allowed_hosts.contains(&key)) {
            return Ok(());
        }
        match classify(ip) {
            None => Ok(()),
            Some(class) => Err(UrlRefusal::ResolvedAddress {
                host: host.to_owned(),
                ip,
                class,
            }),
        }
    }

    /// The disallowed list wins; then a non-empty allowed list must name the host.
    fn check_lists(&self, key: &HostKey, host: &str) -> Result<(), UrlRefusal> {
        if self.disallowed_hosts.contains(key) {
            return Err(UrlRefusal::HostDisallowed(host.to_owned()));
        }
        if !self.allowed_hosts.is_empty() && !self.allowed_hosts.contains(key) {
            return Err(UrlRefusal::HostNotAllowed(host.to_owned()));
        }
        Ok(())
    }
}
