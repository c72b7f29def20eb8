//! The address a client reached the gateway at (scheme, host, path prefix), as Glance
//! sees it: WebOb builds absolute URLs (a 201's `Location`, the versions document's
//! links) from the request's scheme and `Host`, which oslo.middleware's
//! `HTTPProxyToWSGI` (in Glance's default pipeline) first takes from a proxy's
//! `Forwarded` header (RFC 7239, its first element) or else from `X-Forwarded-Proto` and
//! `X-Forwarded-Host`, and whose path prefix it takes from `X-Forwarded-Prefix`.
//! Like that middleware (off unless `enable_proxy_headers_parsing`), the proxy headers
//! are read only when `IMAGEFLEET_PROXY_HEADERS` is on; whatever is used is validated,
//! since the URLs built from it are followed by clients with their tokens.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::{HeaderMap, Uri, header};

use crate::state::AppState;

/// Where the client sent its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or what the proxy says (`https`).
    pub scheme: String,
    /// `host[:port]`.
    pub host: String,
    /// The proxy's path prefix (WSGI's `SCRIPT_NAME`), empty or starting with `/`.
    pub prefix: String,
}

impl Origin {
    /// Reads the origin from a request's headers, the proxy's ones only when
    /// `proxy_headers` is on, falling back to the request target's authority (HTTP/2)
    /// and then `localhost` when no usable host came at all. A scheme other than
    /// `http`/`https`, a host that is no plain `host[:port]` and a prefix with other
    /// than plain path characters are passed over.
    pub fn of(headers: &HeaderMap, uri: &Uri, proxy_headers: bool) -> Self {
        let forwarded = proxy_headers.then(|| forwarded_first(headers)).flatten();
        let pick = |key: &str, legacy: &str| {
            if !proxy_headers {
                return None;
            }
            match &forwarded {
                Some(pairs) => pairs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.clone()),
                None => first_value(headers, legacy),
            }
        };
        let scheme = [
            pick("proto", "x-forwarded-proto"),
            uri.scheme_str().map(str::to_owned),
        ]
        .into_iter()
        .flatten()
        .find_map(|s| valid_scheme(&s))
        .unwrap_or("http")
        .to_owned();
        let host = [
            pick("host", "x-forwarded-host"),
            first_value(headers, header::HOST.as_str()),
            uri.authority().map(|a| a.to_string()),
        ]
        .into_iter()
        .flatten()
        .find(|h| valid_host(h))
        .unwrap_or_else(|| "localhost".to_owned());
        let prefix = proxy_headers
            .then(|| first_value(headers, "x-forwarded-prefix"))
            .flatten()
            .map(|p| p.trim_end_matches('/').to_owned())
            .filter(|p| valid_prefix(p))
            .unwrap_or_default();
        Self {
            scheme,
            host,
            prefix,
        }
    }

    /// An absolute URL for a server-absolute `path` (`/v2/images/..`): WebOb joins the
    /// `Location` path onto the request URL, so the prefix is not added.
    pub fn absolute(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.host)
    }

    /// The application's root URL (WebOb's `application_url`), prefix included.
    pub fn application_url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.prefix)
    }
}

impl FromRequestParts<AppState> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::of(
            &parts.headers,
            &parts.uri,
            state.settings.proxy_headers,
        ))
    }
}

/// `http` or `https` for a scheme naming one of them in any case; none otherwise.
fn valid_scheme(scheme: &str) -> Option<&'static str> {
    ["http", "https"]
        .into_iter()
        .find(|known| scheme.eq_ignore_ascii_case(known))
}

/// Whether `host` is a plain `host[:port]`: a URI authority without user information
/// (`@` would make what follows it the host a client connects to).
fn valid_host(host: &str) -> bool {
    !host.contains('@') && host.parse::<Authority>().is_ok()
}

/// Whether `prefix` is a path of plain characters starting with `/`.
fn valid_prefix(prefix: &str) -> bool {
    prefix.starts_with('/')
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b))
}

/// A header's value up to its first comma, trimmed; none when absent, empty or not text.
fn first_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_owned())
}

/// The `key=value` pairs of the first proxy's element of `Forwarded`, quotes removed;
/// none when the header is absent or names nothing.
fn forwarded_first(headers: &HeaderMap) -> Option<Vec<(String, String)>> {
    let value = headers.get(header::FORWARDED)?.to_str().ok()?;
    let element = value.split(',').next()?;
    let pairs: Vec<(String, String)> = element
        .split(';')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            let value = value.trim().trim_matches('"');
            (!value.is_empty()).then(|| (key.trim().to_owned(), value.to_owned()))
        })
        .collect();
    (!pairs.is_empty()).then_some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(pairs: &[(&str, &str)]) -> Origin {
        origin_with(pairs, true)
    }

    fn origin_with(pairs: &[(&str, &str)], proxy_headers: bool) -> Origin {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                value.parse().expect("a header value"),
            );
        }
        Origin::of(&headers, &Uri::from_static("/v2/images"), proxy_headers)
    }

    #[test]
    fn host_header_over_plain_http() {
        let o = origin(&[("host", "glance.example:9292")]);
        assert_eq!(o.absolute("/v2/x"), "http://glance.example:9292/v2/x");
    }

    #[test]
    fn x_forwarded_proto_host_and_prefix() {
        let o = origin(&[
            ("host", "10.0.0.5:9292"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "images.example"),
            ("x-forwarded-prefix", "/image/"),
        ]);
        assert_eq!(o.absolute("/v2/x"), "https://images.example/v2/x");
        assert_eq!(o.application_url(), "https://images.example/image");
    }

    #[test]
    fn forwarded_wins_over_x_forwarded() {
        let o = origin(&[
            ("host", "10.0.0.5:9292"),
            (
                "forwarded",
                "for=1.2.3.4;proto=https;host=\"a.example\", proto=http",
            ),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-host", "b.example"),
        ]);
        assert_eq!(o.absolute("/v2/x"), "https://a.example/v2/x");
    }

    #[test]
    fn no_host_at_all_is_localhost() {
        assert_eq!(origin(&[]).absolute("/v2/x"), "http://localhost/v2/x");
    }

    #[test]
    fn proxy_headers_are_ignored_when_off() {
        let headers = [
            ("host", "10.0.0.5:9292"),
            ("forwarded", "proto=https;host=a.example"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "b.example"),
            ("x-forwarded-prefix", "/image"),
        ];
        let o = origin_with(&headers, false);
        assert_eq!(o.application_url(), "http://10.0.0.5:9292");
    }

    #[test]
    fn a_scheme_other_than_http_or_https_falls_back_to_http() {
        for proto in ["javascript", "https://evil.example#", "ftp", ""] {
            let o = origin(&[("host", "a.example"), ("x-forwarded-proto", proto)]);
            assert_eq!(o.scheme, "http", "{proto:?}");
        }
        let o = origin(&[("host", "a.example"), ("forwarded", "proto=HTTPS")]);
        assert_eq!(o.scheme, "https");
    }

    #[test]
    fn a_host_that_is_no_plain_authority_falls_back_to_the_next_source() {
        for host in ["evil.example/x", "a@b", "evil.example#", "a b", "a?b"] {
            let o = origin(&[("host", "10.0.0.5:9292"), ("x-forwarded-host", host)]);
            assert_eq!(o.host, "10.0.0.5:9292", "{host:?}");
        }
        let o = origin(&[("host", "user@evil.example")]);
        assert_eq!(o.host, "localhost");
    }

    #[test]
    fn a_prefix_with_other_than_plain_path_characters_is_ignored() {
        for prefix in ["/a?b", "/a#b", "//evil.example@x", "image", "/a%2e"] {
            let o = origin(&[("host", "a.example"), ("x-forwarded-prefix", prefix)]);
            assert_eq!(o.prefix, "", "{prefix:?}");
        }
        let o = origin(&[("host", "a.example"), ("x-forwarded-prefix", "/v-1.x_y~/")]);
        assert_eq!(o.prefix, "/v-1.x_y~");
    }
}
