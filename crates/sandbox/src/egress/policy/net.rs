//! Which networks an address belongs to, for the post-DNS check.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The class of a destination address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetClass {
    Public,
    /// RFC 1918, RFC 6598 (CGNAT), IPv6 ULA.
    Private,
    Loopback,
    /// 169.254.0.0/16 (incl. cloud metadata 169.254.169.254), fe80::/10.
    LinkLocal,
    /// Unspecified, broadcast, multicast, documentation, reserved: never reachable.
    Reserved,
}

impl NetClass {
    pub fn as_str(self) -> &'static str {
        match self {
            NetClass::Public => "public",
            NetClass::Private => "private",
            NetClass::Loopback => "loopback",
            NetClass::LinkLocal => "link-local",
            NetClass::Reserved => "reserved",
        }
    }
}

pub fn classify(ip: IpAddr) -> NetClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> NetClass {
    let o = ip.octets();
    if ip.is_loopback() {
        NetClass::Loopback
    } else if ip.is_link_local() {
        NetClass::LinkLocal
    } else if ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
        NetClass::Private
    } else if ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || o[0] >= 240
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
    {
        NetClass::Reserved
    } else {
        NetClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> NetClass {
    // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) forms are
    // judged by the embedded IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let seg = ip.segments();
    if seg[0..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return classify_v4(Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        ));
    }
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
        return classify_v4(Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        ));
    }
    if ip.is_loopback() {
        NetClass::Loopback
    } else if (seg[0] & 0xffc0) == 0xfe80 {
        NetClass::LinkLocal
    } else if (seg[0] & 0xfe00) == 0xfc00 {
        NetClass::Private
    } else if ip.is_unspecified() || ip.is_multicast() || seg[0] == 0x2001 && seg[1] == 0x0db8 {
        NetClass::Reserved
    } else {
        NetClass::Public
    }
}
