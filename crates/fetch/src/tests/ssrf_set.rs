//! Issue 9's SSRF set as one table: loopback, private ranges, link-local and the
//! metadata service, IPv6 forms and 0.0.0.0, in every spelling a URL can give them
//! (odd IPv4 notations, IPv6 forms carrying an IPv4 address, names that always mean
//! this machine, URL-parser confusions), and the same addresses as the DNS answer for
//! an innocent-looking name. Each is refused by the URL check or by the fetcher's one
//! checked lookup, before any connection is attempted.

use super::pinning::ScriptedResolver;
use crate::{AddressClass, FetchError, ImportFilter, SafeFetcher, UrlRefusal};
use std::net::IpAddr;
use std::time::Duration;

use AddressClass::*;

/// URLs whose host is a literal address of a refused class, and that class.
const LITERALS: [(&str, AddressClass); 37] = [
    // Loopback, in the notations browsers and libc accept.
    ("http://127.0.0.1/", Loopback),
    ("http://127.1/", Loopback),
    ("http://0x7f.1/", Loopback),
    ("http://0177.0.0.1/", Loopback),
    ("http://2130706433/", Loopback),
    ("http://127.0.0.1./", Loopback),
    ("http://%31%32%37.0.0.1/", Loopback),
    ("http://127.0.0.\t1/", Loopback),
    ("http://[::1]/", Loopback),
    (
        "http://[0000:0000:0000:0000:0000:0000:0000:0001]/",
        Loopback,
    ),
    // Private ranges, their edges and carrier-grade NAT.
    ("http://10.0.0.1/", Private),
    ("http://10.255.255.255/", Private),
    ("http://172.16.0.1/", Private),
    ("http://172.31.255.254/", Private),
    ("http://192.168.0.1/", Private),
    ("http://[fc00::1]/", Private),
    ("http://[fd12:3456::1]/", Private),
    ("http://100.64.0.1/", SharedAddressSpace),
    // Link-local and the metadata service.
    ("http://169.254.0.1/", LinkLocal),
    ("http://169.254.169.254/latest/meta-data/", Metadata),
    ("http://0xa9fea9fe/", Metadata),
    ("http://0251.0376.0251.0376/", Metadata),
    ("http://[fe80::1]/", LinkLocal),
    ("http://[fd00:ec2::254]/", Metadata),
    // IPv4 inside IPv6: mapped, translated, compatible, NAT64 and 6to4.
    ("http://[::ffff:127.0.0.1]/", Loopback),
    ("http://[::ffff:7f00:1]/", Loopback),
    ("http://[::ffff:a9fe:a9fe]/", Metadata),
    ("http://[::ffff:10.0.0.1]/", Private),
    ("http://[::ffff:0:169.254.169.254]/", Metadata),
    ("http://[::127.0.0.1]/", Loopback),
    ("http://[64:ff9b::7f00:1]/", Loopback),
    ("http://[64:ff9b::a9fe:a9fe]/", Metadata),
    ("http://[2002:a9fe:a9fe::]/", Metadata),
    // This host.
    ("http://0.0.0.0/", Unspecified),
    ("http://0/", Unspecified),
    ("http://[::]/", Unspecified),
    ("http://[::ffff:0.0.0.0]/", Unspecified),
];

#[test]
fn every_literal_of_the_set_is_refused_by_its_class() {
    let filter = ImportFilter::default();
    for (url, class) in LITERALS {
        match filter.check_url(url) {
            Err(UrlRefusal::Address { class: got, .. }) => assert_eq!(got, class, "{url}"),
            other => panic!("{url}: expected a {class} refusal, got {other:?}"),
        }
    }
}

#[test]
fn names_for_this_machine_and_parser_confusions_are_refused() {
    let filter = ImportFilter::default();
    for url in [
        // RFC 6761 names, also as IDNA full-width letters.
        "http://localhost/",
        "http://LocalHost./",
        "http://images.localhost/",
        "http://\u{ff4c}\u{ff4f}\u{ff43}\u{ff41}\u{ff4c}\u{ff48}\u{ff4f}\u{ff53}\u{ff54}/",
        // The host is what follows the userinfo, whatever the userinfo looks like.
        "http://images.example.com@127.0.0.1/",
        "http://images.example.com:80@169.254.169.254/",
        // Backslashes are slashes in http URLs; so is a missing pair of them.
        "http:\\\\169.254.169.254\\latest",
        "http:169.254.169.254/latest",
        // Whitespace the URL parser strips.
        "  http://127.0.0.1/  ",
        "http://127.0.\n0.1/",
    ] {
        match filter.check_url(url) {
            Err(UrlRefusal::Address { .. } | UrlRefusal::LocalName(_)) => {}
            other => panic!("{url:?}: expected an address refusal, got {other:?}"),
        }
    }
    // Zone ids and brackets around IPv4 are not URLs at all.
    for url in ["http://[fe80::1%25eth0]/", "http://[127.0.0.1]/"] {
        assert!(
            matches!(filter.check_url(url), Err(UrlRefusal::Invalid(_))),
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_name_resolving_to_any_address_of_the_set_is_refused_before_connecting() {
    let answers: Vec<(&str, AddressClass)> = vec![
        ("127.0.0.1", Loopback),
        ("127.53.0.1", Loopback),
        ("::1", Loopback),
        ("10.1.2.3", Private),
        ("172.20.0.1", Private),
        ("192.168.100.1", Private),
        ("fd00::2", Private),
        ("100.100.100.100", SharedAddressSpace),
        ("169.254.1.1", LinkLocal),
        ("169.254.169.254", Metadata),
        ("fe80::fc:ff:fe00:1", LinkLocal),
        ("fd00:ec2::254", Metadata),
        ("::ffff:127.0.0.1", Loopback),
        ("::ffff:169.254.169.254", Metadata),
        ("64:ff9b::a00:1", Private),
        ("0.0.0.0", Unspecified),
        ("::", Unspecified),
    ];
    for (answer, class) in answers {
        let ip: IpAddr = answer.parse().expect("an address");
        let resolver = ScriptedResolver::new(vec![vec![ip]]);
        let fetcher = SafeFetcher::new(ImportFilter::default(), 1 << 20, Duration::from_secs(5), 5)
            .with_resolver(resolver.clone());
        match fetcher.open("http://images.example.com/disk.img").await {
            Err(FetchError::Refused(UrlRefusal::ResolvedAddress {
                ip: got, class: c, ..
            })) => {
                assert_eq!((got, c), (ip, class), "{answer}");
            }
            other => panic!("{answer}: expected a resolved-address refusal, got {other:?}"),
        }
        assert_eq!(resolver.calls(), 1, "{answer}: one lookup");
    }
}

#[tokio::test]
async fn a_refused_first_answer_is_not_retried_into_an_allowed_one() {
    // Rebinding the other way round: refused first, public afterwards. The fetcher
    // neither retries the lookup nor falls back to a later answer.
    let resolver = ScriptedResolver::new(vec![
        vec!["169.254.169.254".parse().expect("ip")],
        vec!["93.184.216.34".parse().expect("ip")],
    ]);
    let fetcher = SafeFetcher::new(ImportFilter::default(), 1 << 20, Duration::from_secs(5), 5)
        .with_resolver(resolver.clone());
    let error = fetcher
        .open("http://rebind.example.com/")
        .await
        .expect_err("refused");
    assert!(error.is_refusal(), "{error:?}");
    assert_eq!(resolver.calls(), 1);
}
