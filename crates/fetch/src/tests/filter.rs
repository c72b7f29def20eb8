//! The URL check: schemes, ports, host lists, literal addresses in every notation the URL
//! parser accepts, and the allowed-host exemption.

use crate::{AddressClass, ImportFilter, UrlRefusal};
use std::net::IpAddr;

fn refusal(filter: &ImportFilter, url: &str) -> UrlRefusal {
    match filter.check_url(url) {
        Ok(parsed) => panic!("{url} was accepted as {parsed}"),
        Err(refusal) => refusal,
    }
}

fn class_of(filter: &ImportFilter, url: &str) -> AddressClass {
    match refusal(filter, url) {
        UrlRefusal::Address { class, .. } => class,
        other => panic!("{url}: expected an address refusal, got {other:?}"),
    }
}

#[test]
fn public_http_and_https_urls_pass_with_the_defaults() {
    let filter = ImportFilter::default();
    for url in [
        "http://images.example.com/cirros.img",
        "https://images.example.com/cirros.img",
        "https://images.example.com:443/a?b=c#frag",
        "http://93.184.216.34/x",
        "http://[2606:2800:220:1:248:1893:25c8:1946]/x",
        "http://user:secret@images.example.com/x",
    ] {
        assert!(filter.check_url(url).is_ok(), "{url}");
    }
}

#[test]
fn other_schemes_are_refused_even_when_configured() {
    let filter = ImportFilter::default();
    for (url, scheme) in [
        ("ftp://images.example.com/x", "ftp"),
        ("file:///etc/passwd", "file"),
        ("gopher://images.example.com:70/_x", "gopher"),
        ("data:text/plain,hello", "data"),
        ("javascript:alert(1)", "javascript"),
        ("HTTPX://images.example.com/", "httpx"),
    ] {
        assert_eq!(refusal(&filter, url), UrlRefusal::Scheme(scheme.to_owned()));
    }
    // Configuring ftp does not make the fetcher speak it; narrowing to https works.
    let ftp = ImportFilter::default().with_allowed_schemes(["ftp", "http"]);
    assert!(matches!(
        refusal(&ftp, "ftp://images.example.com/x"),
        UrlRefusal::Scheme(_)
    ));
    let https_only = ImportFilter::default().with_allowed_schemes(["HTTPS"]);
    assert_eq!(
        refusal(&https_only, "http://images.example.com/x"),
        UrlRefusal::Scheme("http".to_owned())
    );
    assert!(https_only.check_url("https://images.example.com/x").is_ok());
}

#[test]
fn garbage_is_invalid_not_a_panic() {
    let filter = ImportFilter::default();
    for url in [
        "",
        "not a url",
        "http://",
        "http://[::1/",
        "http://exa mple.com/",
    ] {
        assert!(
            matches!(refusal(&filter, url), UrlRefusal::Invalid(_)),
            "{url}"
        );
    }
}

#[test]
fn ports_outside_the_list_are_refused_including_default_ports() {
    let filter = ImportFilter::default();
    assert_eq!(
        refusal(&filter, "http://images.example.com:8080/x"),
        UrlRefusal::Port(8080)
    );
    assert_eq!(
        refusal(&filter, "https://images.example.com:8443/x"),
        UrlRefusal::Port(8443)
    );
    let only_443 = ImportFilter::default().with_allowed_ports([443]);
    assert_eq!(
        refusal(&only_443, "http://images.example.com/x"),
        UrlRefusal::Port(80)
    );
    let extra = ImportFilter::default().allow_port(8080);
    assert!(extra.check_url("http://images.example.com:8080/x").is_ok());
    let any = ImportFilter::default().with_allowed_ports([]);
    assert!(any.check_url("http://images.example.com:1/x").is_ok());
}

#[test]
fn disallowed_hosts_are_refused_in_every_spelling() {
    let filter = ImportFilter::default()
        .disallow_host("Evil.Example.com")
        .disallow_host("93.184.216.34");
    for url in [
        "http://evil.example.com/x",
        "http://EVIL.example.COM/x",
        "http://evil.example.com./x",
        "http://93.184.216.34/x",
        "http://1572395042/x",
        "http://0x5d.0xb8.0xd8.0x22/x",
        "http://[::ffff:93.184.216.34]/x",
    ] {
        assert!(
            matches!(refusal(&filter, url), UrlRefusal::HostDisallowed(_)),
            "{url}"
        );
    }
    assert!(filter.check_url("http://good.example.com/x").is_ok());
    // Exact names: a subdomain is another host.
    assert!(filter.check_url("http://a.evil.example.com/x").is_ok());
}

#[test]
fn a_non_empty_allowed_list_admits_only_its_hosts() {
    let filter = ImportFilter::default().with_allowed_hosts(["mirror.example.com", " ", ""]);
    assert!(filter.check_url("http://mirror.example.com/x").is_ok());
    assert_eq!(
        refusal(&filter, "http://other.example.com/x"),
        UrlRefusal::HostNotAllowed("other.example.com".to_owned())
    );
    // The disallowed list wins over the allowed one.
    let both = filter.disallow_host("mirror.example.com");
    assert!(matches!(
        refusal(&both, "http://mirror.example.com/x"),
        UrlRefusal::HostDisallowed(_)
    ));
}

#[test]
fn every_refused_ipv4_class_is_refused_as_a_literal() {
    let filter = ImportFilter::default();
    use AddressClass::*;
    for (host, class) in [
        ("0.0.0.0", Unspecified),
        ("0.1.2.3", Unspecified),
        ("127.0.0.1", Loopback),
        ("127.255.255.254", Loopback),
        ("10.0.0.1", Private),
        ("172.16.0.1", Private),
        ("172.31.255.255", Private),
        ("192.168.1.1", Private),
        ("100.64.0.1", SharedAddressSpace),
        ("100.127.255.255", SharedAddressSpace),
        ("169.254.0.1", LinkLocal),
        ("169.254.169.254", Metadata),
        ("255.255.255.255", Broadcast),
        ("224.0.0.1", Multicast),
        ("239.255.255.250", Multicast),
        ("192.0.2.1", Documentation),
        ("198.51.100.1", Documentation),
        ("203.0.113.1", Documentation),
        ("192.0.0.170", Reserved),
        ("198.18.0.1", Reserved),
        ("192.88.99.1", Reserved),
        ("240.0.0.1", Reserved),
    ] {
        assert_eq!(
            class_of(&filter, &format!("http://{host}/")),
            class,
            "{host}"
        );
    }
    // Neighbours of the ranges are ordinary addresses.
    for host in [
        "172.32.0.1",
        "100.128.0.1",
        "11.0.0.1",
        "169.253.255.255",
        "1.1.1.1",
    ] {
        assert!(
            filter.check_url(&format!("http://{host}/")).is_ok(),
            "{host}"
        );
    }
}

#[test]
fn odd_ipv4_notations_are_normalised_before_the_check() {
    let filter = ImportFilter::default();
    for url in [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://127.0.1/",
        "http://017700000001/",
        "http://①②⑦.0.0.1/",
        "http://127.0.0.1./",
    ] {
        assert_eq!(class_of(&filter, url), AddressClass::Loopback, "{url}");
    }
    assert_eq!(
        class_of(&filter, "http://0xa9.0xfe.0xa9.0xfe/"),
        AddressClass::Metadata
    );
    assert_eq!(
        class_of(&filter, "http://2852039166/"),
        AddressClass::Metadata
    );
    assert_eq!(class_of(&filter, "http://0/"), AddressClass::Unspecified);
}

#[test]
fn ipv6_forms_are_refused_including_embedded_ipv4() {
    let filter = ImportFilter::default();
    use AddressClass::*;
    for (host, class) in [
        ("::", Unspecified),
        ("::1", Loopback),
        ("0:0:0:0:0:0:0:1", Loopback),
        ("::ffff:127.0.0.1", Loopback),
        ("::ffff:7f00:1", Loopback),
        ("::ffff:169.254.169.254", Metadata),
        ("::ffff:10.1.2.3", Private),
        ("::127.0.0.1", Loopback),
        ("::8.8.8.8", Reserved),
        ("::ffff:0:127.0.0.1", Loopback),
        ("64:ff9b::127.0.0.1", Loopback),
        ("64:ff9b::a9fe:a9fe", Metadata),
        ("64:ff9b:1::1", Private),
        ("2002:7f00:1::", Loopback),
        ("2002:a9fe:a9fe::1", Metadata),
        ("fc00::1", Private),
        ("fdff:ffff::1", Private),
        ("fd00:ec2::254", Metadata),
        ("fec0::1", Private),
        ("fe80::1", LinkLocal),
        ("febf::1", LinkLocal),
        ("ff02::1", Multicast),
        ("2001:db8::1", Documentation),
        ("3fff::1", Documentation),
        ("2001::1", Reserved),
        ("100::1", Reserved),
    ] {
        assert_eq!(
            class_of(&filter, &format!("http://[{host}]/")),
            class,
            "{host}"
        );
    }
    for host in [
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ] {
        assert!(
            filter.check_url(&format!("http://[{host}]/")).is_ok(),
            "{host}"
        );
    }
}

#[test]
fn localhost_names_are_refused_without_resolving() {
    let filter = ImportFilter::default();
    for host in ["localhost", "LOCALHOST", "localhost.", "api.localhost"] {
        assert!(
            matches!(
                refusal(&filter, &format!("http://{host}/")),
                UrlRefusal::LocalName(_)
            ),
            "{host}"
        );
    }
}

#[test]
fn an_allowed_host_is_exempt_from_the_address_classes() {
    let filter = ImportFilter::default()
        .allow_host("127.0.0.1")
        .allow_host("[::1]")
        .allow_host("localhost")
        .allow_host("mirror.internal");
    for url in [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost/",
    ] {
        assert!(filter.check_url(url).is_ok(), "{url}");
    }
    // Only the listed address: the rest of 127/8 is still loopback (and not listed).
    assert!(matches!(
        refusal(&filter, "http://127.0.0.2/"),
        UrlRefusal::HostNotAllowed(_)
    ));
    let ten: IpAddr = [10, 0, 0, 5].into();
    assert!(filter.check_address("mirror.internal", ten).is_ok());
    assert!(filter.check_address("MIRROR.internal.", ten).is_ok());
}

#[test]
fn check_address_refuses_resolved_answers_by_class() {
    let filter = ImportFilter::default();
    let public: IpAddr = [93, 184, 216, 34].into();
    assert!(filter.check_address("images.example.com", public).is_ok());
    for (ip, class) in [
        (IpAddr::from([127, 0, 0, 1]), AddressClass::Loopback),
        (IpAddr::from([169, 254, 169, 254]), AddressClass::Metadata),
        (
            "::ffff:10.0.0.1".parse().expect("ip"),
            AddressClass::Private,
        ),
        ("fd00:ec2::254".parse().expect("ip"), AddressClass::Metadata),
    ] {
        let refused = filter
            .check_address("images.example.com", ip)
            .expect_err("refused");
        assert_eq!(
            refused,
            UrlRefusal::ResolvedAddress {
                host: "images.example.com".to_owned(),
                ip,
                class
            }
        );
        // The message names the host the user gave, not the internal address.
        let message = refused.to_string();
        assert!(message.contains("images.example.com"), "{message}");
        assert!(!message.contains(&ip.to_string()), "{message}");
    }
}

#[test]
fn refusal_messages_are_readable() {
    let filter = ImportFilter::default();
    assert_eq!(
        refusal(&filter, "http://169.254.169.254/latest/meta-data/").to_string(),
        "the host '169.254.169.254' is a metadata service address, which imports may not reach"
    );
    assert_eq!(
        refusal(&filter, "ftp://x/").to_string(),
        "the URL scheme 'ftp' is not allowed for imports"
    );
    assert_eq!(
        refusal(&filter, "http://x:22/").to_string(),
        "port 22 is not allowed for imports"
    );
}
