//! Which IP addresses an import may not reach: loopback, private, link-local, the cloud
//! metadata service and the other special-purpose ranges (IANA's registries), for IPv4 and
//! IPv6 alike. IPv6 forms that carry an IPv4 address (mapped, compatible, translated,
//! NAT64, 6to4) are judged by the IPv4 address inside, since that is where a packet to them
//! can end up.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The IPv4 address of the cloud metadata service (EC2, OpenStack, GCE, Azure).
const METADATA_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// EC2's IPv6 metadata address (inside fc00::/7, named apart so the refusal says so).
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// The kind of special-purpose address an import was refused for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// 0.0.0.0/8 and `::`: Linux connects "this host" to the local machine.
    Unspecified,
    /// 127.0.0.0/8 and `::1`.
    Loopback,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16), unique local fc00::/7, site-local fec0::/10
    /// and local-use NAT64 64:ff9b:1::/48.
    Private,
    /// Carrier-grade NAT space 100.64.0.0/10 (RFC 6598).
    SharedAddressSpace,
    /// 169.254.0.0/16 and fe80::/10.
    LinkLocal,
    /// The metadata service, 169.254.169.254 and fd00:ec2::254 (credentials live there).
    Metadata,
    /// 255.255.255.255.
    Broadcast,
    /// 224.0.0.0/4 and ff00::/8.
    Multicast,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32 and 3fff::/20.
    Documentation,
    /// Everything else that is not ordinary unicast: 240/4, benchmarking 198.18/15,
    /// IETF protocol assignments 192.0.0/24 and 2001::/23 (Teredo included), the 6to4
    /// relay 192.88.99/24, discard-only 100::/64 and the deprecated IPv4-compatible ::/96.
    Reserved,
}

impl AddressClass {
    /// A short name for messages: "a {name} address".
    pub fn name(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedAddressSpace => "shared (carrier-grade NAT)",
            Self::LinkLocal => "link-local",
            Self::Metadata => "metadata service",
            Self::Broadcast => "broadcast",
            Self::Multicast => "multicast",
            Self::Documentation => "documentation",
            Self::Reserved => "reserved",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The refused class `ip` falls in, or `None` for an ordinary public unicast address.
pub fn classify(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Whether the top `len` bits of `addr` equal those of `net`.
fn in_v4(addr: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(addr) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

/// Whether the top `len` bits of `addr` equal those of `net`.
fn in_v6(addr: Ipv6Addr, net: [u16; 8], len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(addr) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    use AddressClass::*;
    // Most specific first: the metadata address sits inside link-local.
    let class = if ip == METADATA_V4 {
        Metadata
    } else if in_v4(ip, [0, 0, 0, 0], 8) {
        Unspecified
    } else if in_v4(ip, [127, 0, 0, 0], 8) {
        Loopback
    } else if in_v4(ip, [10, 0, 0, 0], 8)
        || in_v4(ip, [172, 16, 0, 0], 12)
        || in_v4(ip, [192, 168, 0, 0], 16)
    {
        Private
    } else if in_v4(ip, [100, 64, 0, 0], 10) {
        SharedAddressSpace
    } else if in_v4(ip, [169, 254, 0, 0], 16) {
        LinkLocal
    } else if in_v4(ip, [192, 0, 2, 0], 24)
        || in_v4(ip, [198, 51, 100, 0], 24)
        || in_v4(ip, [203, 0, 113, 0], 24)
    {
        Documentation
    } else if ip == Ipv4Addr::BROADCAST {
        Broadcast
    } else if in_v4(ip, [224, 0, 0, 0], 4) {
        Multicast
    } else if in_v4(ip, [240, 0, 0, 0], 4)
        || in_v4(ip, [192, 0, 0, 0], 24)
        || in_v4(ip, [198, 18, 0, 0], 15)
        || in_v4(ip, [192, 88, 99, 0], 24)
    {
        Reserved
    } else {
        return None;
    };
    Some(class)
}

/// The IPv4 address an IPv6 address carries in a form that can deliver to it: mapped
/// `::ffff:a.b.c.d`, translated `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, and 6to4
/// `2002:aabb:ccdd::/48` (whose relay forwards to a.b.c.d).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96)
        || in_v6(ip, [0, 0, 0, 0, 0xffff, 0, 0, 0], 96)
        || in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96)
    {
        Some(low)
    } else if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        Some(Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])))
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    use AddressClass::*;
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let class = if ip == METADATA_V6 {
        Metadata
    } else if ip.is_unspecified() {
        Unspecified
    } else if ip.is_loopback() {
        Loopback
    } else if in_v6(ip, [0, 0, 0, 0, 0, 0, 0, 0], 96) {
        // IPv4-compatible ::a.b.c.d: deprecated since 2006, never a real destination; the
        // IPv4 class when it has one makes the message clearer.
        let s = ip.segments();
        let v4 = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
        classify_v4(v4).unwrap_or(Reserved)
    } else if in_v6(ip, [0xfc00, 0, 0, 0, 0, 0, 0, 0], 7)
        || in_v6(ip, [0xfec0, 0, 0, 0, 0, 0, 0, 0], 10)
        || in_v6(ip, [0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48)
    {
        Private
    } else if in_v6(ip, [0xfe80, 0, 0, 0, 0, 0, 0, 0], 10) {
        LinkLocal
    } else if in_v6(ip, [0xff00, 0, 0, 0, 0, 0, 0, 0], 8) {
        Multicast
    } else if in_v6(ip, [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32)
        || in_v6(ip, [0x3fff, 0, 0, 0, 0, 0, 0, 0], 20)
    {
        Documentation
    } else if in_v6(ip, [0x2001, 0, 0, 0, 0, 0, 0, 0], 23)
        || in_v6(ip, [0x100, 0, 0, 0, 0, 0, 0, 0], 64)
    {
        Reserved
    } else {
        return None;
    };
    Some(class)
}
