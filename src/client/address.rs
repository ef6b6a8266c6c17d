//! Classification of IP addresses for the server-side request forgery
//! (SSRF) guard: which addresses a federation server must not be tricked
//! into contacting on behalf of a remote party.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address an [`IpAddr`] is, as far as the SSRF guard cares.
///
/// Every class except [`AddressClass::Public`] is refused by the default
/// [`FetchPolicy`](super::FetchPolicy). IPv4-mapped (`::ffff:a.b.c.d`) and
/// IPv4-compatible IPv6 addresses are classified by their IPv4 part, so
/// `::ffff:127.0.0.1` is loopback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressClass {
    /// A globally routable unicast address.
    Public,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 private IPv4: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT shared address space (RFC 6598).
    SharedAddressSpace,
    /// `169.254.0.0/16`, `fe80::/10` (includes cloud metadata endpoints).
    LinkLocal,
    /// `fc00::/7` unique local IPv6 (RFC 4193).
    UniqueLocal,
    /// `0.0.0.0/8` ("this network") and `::`.
    Unspecified,
    /// Multicast and broadcast: `224/4`, `255.255.255.255`, `ff00::/8`.
    Multicast,
    /// Documentation, benchmarking and reserved ranges (`192.0.2/24`,
    /// `198.18/15`, `240/4`, `2001:db8::/32`, `192.0.0/24`, `64:ff9b:1::/48`…).
    Reserved,
}

impl AddressClass {
    /// Whether this class may be contacted without an explicit opt-in.
    pub fn is_public(self) -> bool {
        self == AddressClass::Public
    }
}

/// Classifies `addr` for the SSRF guard.
///
/// ```
/// use archipel::client::{classify, AddressClass};
/// assert_eq!(classify("169.254.169.254".parse().unwrap()), AddressClass::LinkLocal);
/// assert_eq!(classify("::ffff:10.1.2.3".parse().unwrap()), AddressClass::Private);
/// assert_eq!(classify("93.184.215.14".parse().unwrap()), AddressClass::Public);
/// ```
pub fn classify(addr: IpAddr) -> AddressClass {
    match addr {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(a: Ipv4Addr) -> AddressClass {
    let [o0, o1, o2, _] = a.octets();
    match (o0, o1, o2) {
        (0, _, _) => AddressClass::Unspecified,
        (127, _, _) => AddressClass::Loopback,
        (10, _, _) => AddressClass::Private,
        (172, 16..=31, _) => AddressClass::Private,
        (192, 168, _) => AddressClass::Private,
        (100, 64..=127, _) => AddressClass::SharedAddressSpace,
        (169, 254, _) => AddressClass::LinkLocal,
        (224..=239, _, _) => AddressClass::Multicast,
        _ if a.is_broadcast() => AddressClass::Multicast,
        (240..=255, _, _) => AddressClass::Reserved,
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => AddressClass::Reserved,
        (198, 18..=19, _) => AddressClass::Reserved,
        // 192.88.99.0/24: deprecated 6to4 relay anycast.
        (192, 88, 99) => AddressClass::Reserved,
        _ => AddressClass::Public,
    }
}

fn classify_v6(a: Ipv6Addr) -> AddressClass {
    if a.is_unspecified() {
        return AddressClass::Unspecified;
    }
    if a.is_loopback() {
        return AddressClass::Loopback;
    }
    let seg = a.segments();
    let [s0, s1, s2, s3, s4, s5, _, _] = seg;
    // IPv4-mapped ::ffff:a.b.c.d
    if let Some(v4) = a.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    // Deprecated IPv4-compatible ::a.b.c.d (excluding :: and ::1 handled above).
    if s0 == 0 && s1 == 0 && s2 == 0 && s3 == 0 && s4 == 0 && s5 == 0 {
        let o = a.octets();
        let [.., a0, a1, a2, a3] = o;
        return classify_v4(Ipv4Addr::new(a0, a1, a2, a3));
    }
    // NAT64 well-known prefix 64:ff9b::/96 embeds an IPv4 address.
    if s0 == 0x64 && s1 == 0xff9b && s2 == 0 && s3 == 0 && s4 == 0 && s5 == 0 {
        let [.., a0, a1, a2, a3] = a.octets();
        return classify_v4(Ipv4Addr::new(a0, a1, a2, a3));
    }
    match s0 {
        x if x & 0xfe00 == 0xfc00 => AddressClass::UniqueLocal,
        x if x & 0xffc0 == 0xfe80 => AddressClass::LinkLocal,
        // fec0::/10 deprecated site-local: treat as private-ish.
        x if x & 0xffc0 == 0xfec0 => AddressClass::UniqueLocal,
        x if x & 0xff00 == 0xff00 => AddressClass::Multicast,
        // 2001:db8::/32 documentation, 2001::/23 IETF protocol assignments
        // (Teredo 2001::/32 included), 64:ff9b:1::/48 local-use NAT64,
        // 100::/64 discard, 2002::/16 6to4 (embeds arbitrary IPv4).
        0x2001 if s1 == 0x0db8 || s1 < 0x0200 => AddressClass::Reserved,
        0x0064 if s1 == 0xff9b && s2 == 1 => AddressClass::Reserved,
        0x0100 if s1 == 0 && s2 == 0 && s3 == 0 => AddressClass::Reserved,
        0x2002 => AddressClass::Reserved,
        // Everything outside 2000::/3 is unassigned global unicast space.
        x if x & 0xe000 != 0x2000 => AddressClass::Reserved,
        _ => AddressClass::Public,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn ipv4_ranges() {
        for (addr, class) in [
            ("127.0.0.1", AddressClass::Loopback),
            ("127.255.255.254", AddressClass::Loopback),
            ("10.0.0.1", AddressClass::Private),
            ("10.255.255.255", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("172.31.255.255", AddressClass::Private),
            ("172.15.255.255", AddressClass::Public),
            ("172.32.0.0", AddressClass::Public),
            ("192.168.0.1", AddressClass::Private),
            ("192.169.0.1", AddressClass::Public),
            ("169.254.169.254", AddressClass::LinkLocal),
            ("169.253.0.1", AddressClass::Public),
            ("100.64.0.1", AddressClass::SharedAddressSpace),
            ("100.127.255.255", AddressClass::SharedAddressSpace),
            ("100.63.255.255", AddressClass::Public),
            ("100.128.0.0", AddressClass::Public),
            ("0.0.0.0", AddressClass::Unspecified),
            ("0.1.2.3", AddressClass::Unspecified),
            ("224.0.0.1", AddressClass::Multicast),
            ("255.255.255.255", AddressClass::Multicast),
            ("240.0.0.1", AddressClass::Reserved),
            ("192.0.2.7", AddressClass::Reserved),
            ("198.18.0.1", AddressClass::Reserved),
            ("8.8.8.8", AddressClass::Public),
            ("1.1.1.1", AddressClass::Public),
        ] {
            assert_eq!(c(addr), class, "{addr}");
        }
    }

    #[test]
    fn ipv6_ranges() {
        for (addr, class) in [
            ("::1", AddressClass::Loopback),
            ("::", AddressClass::Unspecified),
            ("fc00::1", AddressClass::UniqueLocal),
            ("fd12:3456:789a::1", AddressClass::UniqueLocal),
            ("fbff::1", AddressClass::Reserved),
            ("fe80::1", AddressClass::LinkLocal),
            ("febf::1", AddressClass::LinkLocal),
            ("ff02::1", AddressClass::Multicast),
            ("2001:db8::1", AddressClass::Reserved),
            ("2002:a00:1::", AddressClass::Reserved),
            ("2a00:1450:4001:81c::200e", AddressClass::Public),
            ("2606:4700:4700::1111", AddressClass::Public),
        ] {
            assert_eq!(c(addr), class, "{addr}");
        }
    }

    #[test]
    fn ipv4_mapped_and_embedded() {
        assert_eq!(c("::ffff:127.0.0.1"), AddressClass::Loopback);
        assert_eq!(c("::ffff:10.0.0.1"), AddressClass::Private);
        assert_eq!(c("::ffff:169.254.169.254"), AddressClass::LinkLocal);
        assert_eq!(c("::ffff:192.168.1.1"), AddressClass::Private);
        assert_eq!(c("::ffff:8.8.8.8"), AddressClass::Public);
        assert_eq!(c("::127.0.0.1"), AddressClass::Loopback);
        assert_eq!(c("64:ff9b::a00:1"), AddressClass::Private);
        assert_eq!(c("64:ff9b::808:808"), AddressClass::Public);
    }

    #[test]
    fn only_public_is_public() {
        assert!(AddressClass::Public.is_public());
        assert!(!AddressClass::Loopback.is_public());
        assert!(!AddressClass::UniqueLocal.is_public());
    }
}
