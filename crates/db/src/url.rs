//! Reading and replacing the database name in a Postgres URL, so one configured URL
//! can also reach the `postgres` maintenance database (to create the target) or a
//! per-test database, and reading and setting its query parameters (the session
//! settings of [`super::session`]). Only the URL form is handled, not libpq's
//! `key=value` form:
//! `postgres[ql]://[user[:password]@][host][:port][/database][?params][#fragment]`.

use super::error::DbError;

/// The parts of a URL around its database name.
struct Parts<'a> {
    /// `scheme://authority`, kept verbatim.
    head: &'a str,
    /// The path without its leading `/`, still percent-encoded.
    path: Option<&'a str>,
    /// The query without `?`.
    query: Option<&'a str>,
    /// The fragment including `#`, kept verbatim.
    fragment: &'a str,
}

fn split(url: &str) -> Result<Parts<'_>, DbError> {
    let invalid = |why: &str| DbError::InvalidUrl(format!("{why} (expected postgres://...)"));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("no scheme"))?;
    if !scheme.eq_ignore_ascii_case("postgres") && !scheme.eq_ignore_ascii_case("postgresql") {
        return Err(invalid("not a postgres URL"));
    }
    let (before_fragment, fragment) = match rest.find('#') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (before_fragment, None),
    };
    // A password holding `/` must be percent-encoded, as in any URL, so the first `/`
    // after the scheme ends the authority.
    let (authority, path) = match before_query.split_once('/') {
        Some((authority, path)) => (authority, Some(path)),
        None => (before_query, None),
    };
    let head_len = scheme.len() + "://".len() + authority.len();
    Ok(Parts {
        head: &url[..head_len],
        path,
        query,
        fragment,
    })
}

/// The database the URL names, percent-decoded; `None` when it names none (Postgres
/// then uses the user name). A `dbname` query parameter wins over the path, as in libpq.
pub fn database_name(url: &str) -> Result<Option<String>, DbError> {
    let parts = split(url)?;
    let from_query = parts
        .query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .filter_map(|pair| pair.strip_prefix("dbname="))
        .next_back();
    match from_query.or(parts.path).filter(|name| !name.is_empty()) {
        Some(encoded) => decode(encoded).map(Some),
        None => Ok(None),
    }
}

/// The same URL naming `database` instead (credentials, host, port and parameters
/// kept). A `dbname` query parameter is dropped, since it would override the path.
pub fn with_database(url: &str, database: &str) -> Result<String, DbError> {
    let parts = split(url)?;
    let mut out = format!("{}/{}", parts.head, encode(database));
    let kept: Vec<&str> = parts
        .query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .filter(|pair| !pair.is_empty() && !pair.starts_with("dbname="))
        .collect();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out.push_str(parts.fragment);
    Ok(out)
}

/// The value of query parameter `key`, percent-decoded; the last one when it is given
/// more than once (the one tokio-postgres and libpq use).
pub fn query_param(url: &str, key: &str) -> Result<Option<String>, DbError> {
    let parts = split(url)?;
    let found = parts
        .query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, _)| *name == key)
        .map(|(_, value)| value)
        .next_back();
    found.map(decode).transpose()
}

/// The same URL with each of `params` set: a parameter already there takes the new
/// value in its place, the others are appended in order.
pub fn with_params(url: &str, params: &[(&str, String)]) -> Result<String, DbError> {
    let parts = split(url)?;
    let mut pairs: Vec<(String, String)> = parts
        .query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (pair.to_owned(), String::new()),
        })
        .collect();
    for (name, value) in params {
        let value = encode(value);
        let mut replaced = false;
        for pair in pairs.iter_mut().filter(|(n, _)| n == name) {
            pair.1.clone_from(&value);
            replaced = true;
        }
        if !replaced {
            pairs.push(((*name).to_owned(), value));
        }
    }
    let mut out = parts.head.to_owned();
    if let Some(path) = parts.path {
        out.push('/');
        out.push_str(path);
    }
    let query: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query.join("&"));
    }
    out.push_str(parts.fragment);
    Ok(out)
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn decode(text: &str) -> Result<String, DbError> {
    let bad = || DbError::InvalidUrl(format!("bad percent-encoding in database name {text:?}"));
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        if byte == b'%' {
            let hex = text.get(at + 1..at + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            at += 3;
        } else {
            out.push(byte);
            at += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_database_name() -> Result<(), DbError> {
        let name = |url| database_name(url);
        assert_eq!(name("postgres://u@h:5432/app")?.as_deref(), Some("app"));
        assert_eq!(
            name("postgresql://u:p@h/my%20db?sslmode=disable")?.as_deref(),
            Some("my db")
        );
        assert_eq!(
            name("postgres://h/app?dbname=other")?.as_deref(),
            Some("other")
        );
        assert_eq!(name("postgres://u@h:5432")?, None);
        assert_eq!(name("postgres://u@h:5432/")?, None);
        assert!(name("mysql://h/app").is_err());
        assert!(name("host=h dbname=app").is_err());
        assert!(name("postgres://h/bad%zz").is_err());
        Ok(())
    }

    #[test]
    fn reads_and_sets_query_parameters() -> Result<(), DbError> {
        let url = "postgres://u@h/app?sslmode=disable&options=-c%20a%3D1#f";
        assert_eq!(query_param(url, "options")?.as_deref(), Some("-c a=1"));
        assert_eq!(query_param(url, "keepalives")?, None);
        let set = with_params(url, &[("options", "-c b=2".into()), ("x", "1".into())])?;
        assert_eq!(
            set,
            "postgres://u@h/app?sslmode=disable&options=-c%20b%3D2&x=1#f"
        );
        assert_eq!(
            with_params("postgres://h", &[("k", "v".into())])?,
            "postgres://h?k=v"
        );
        Ok(())
    }

    #[test]
    fn swaps_the_database_name() -> Result<(), DbError> {
        assert_eq!(
            with_database("postgres://u:p%2Fw@h:5432/app?sslmode=disable", "postgres")?,
            "postgres://u:p%2Fw@h:5432/postgres?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x y")?, "postgres://h/x%20y");
        assert_eq!(
            with_database("postgres://h/a?dbname=a&connect_timeout=3#f", "b")?,
            "postgres://h/b?connect_timeout=3#f"
        );
        assert_eq!(with_database("postgres://h/a?", "b")?, "postgres://h/b");
        Ok(())
    }
}
