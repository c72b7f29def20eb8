//! The address a client reached the gateway at (scheme, host, path prefix), as Glance
//! sees it: WebOb builds absolute URLs (a 201's `Location`, the versions document's
//! links) from the request's scheme and `Host`, which oslo.middleware's
//! `HTTPProxyToWSGI` (in Glance's default pipeline) first takes from a proxy's
//! `Forwarded` header (RFC 7239, its first element) or else from `X-Forwarded-Proto` and
//! `X-Forwarded-Host`, and whose path prefix it takes from `X-Forwarded-Prefix`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri, header};

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
    /// Reads the origin from a request's headers, falling back to the request target's
    /// authority (HTTP/2) and then `localhost` when no `Host` came at all.
    pub fn of(headers: &HeaderMap, uri: &Uri) -> Self {
        let forwarded = forwarded_first(headers);
        let pick = |key: &str, legacy: &str| match &forwarded {
            Some(pairs) => pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone()),
            None => first_value(headers, legacy),
        };
        let scheme = pick("proto", "x-forwarded-proto")
            .or_else(|| uri.scheme_str().map(str::to_owned))
            .unwrap_or_else(|| "http".to_owned());
        let host = pick("host", "x-forwarded-host")
            .or_else(|| first_value(headers, header::HOST.as_str()))
            .or_else(|| uri.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| "localhost".to_owned());
        let prefix = first_value(headers, "x-forwarded-prefix")
            .map(|p| p.trim_end_matches('/').to_owned())
            .filter(|p| p.starts_with('/'))
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

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.headers, &parts.uri))
    }
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
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                value.parse().expect("a header value"),
            );
        }
        Origin::of(&headers, &Uri::from_static("/v2/images"))
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
}
