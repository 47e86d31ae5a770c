//! Which addresses outbound requests may never reach. Written by hand: the standard library's
//! `is_global` is unstable, and the list must also see through IPv6 forms that embed an IPv4
//! address (mapped, compatible, NAT64, 6to4).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused, or `None` when it is a public unicast address.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: [([u8; 4], u32, &str); 17] = [
        ([0, 0, 0, 0], 8, "\"this network\" (0.0.0.0/8)"),
        ([10, 0, 0, 0], 8, "private (10.0.0.0/8)"),
        ([100, 64, 0, 0], 10, "carrier-grade NAT (100.64.0.0/10)"),
        ([127, 0, 0, 0], 8, "loopback (127.0.0.0/8)"),
        ([169, 254, 0, 0], 16, "link-local and cloud metadata (169.254.0.0/16)"),
        ([172, 16, 0, 0], 12, "private (172.16.0.0/12)"),
        ([192, 0, 0, 0], 24, "IETF protocol assignments (192.0.0.0/24)"),
        ([192, 0, 2, 0], 24, "documentation (192.0.2.0/24)"),
        ([192, 88, 99, 0], 24, "6to4 relay (192.88.99.0/24)"),
        ([192, 168, 0, 0], 16, "private (192.168.0.0/16)"),
        ([198, 18, 0, 0], 15, "benchmarking (198.18.0.0/15)"),
        ([198, 51, 100, 0], 24, "documentation (198.51.100.0/24)"),
        ([203, 0, 113, 0], 24, "documentation (203.0.113.0/24)"),
        ([224, 0, 0, 0], 4, "multicast (224.0.0.0/4)"),
        ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"),
        ([255, 255, 255, 255], 32, "broadcast"),
        ([100, 100, 100, 200], 32, "cloud metadata (Alibaba)"),
    ];
    RANGES.iter().find(|(net, prefix, _)| in_v4(ip, *net, *prefix)).map(|(_, _, why)| *why)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    let embedded_v4 = |high: usize| {
        let [a, b] = segments[high].to_be_bytes();
        let [c, d] = segments[high + 1].to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if ip.is_unspecified() {
        return Some("unspecified (::)");
    }
    if ip.is_loopback() {
        return Some("loopback (::1)");
    }
    // IPv4-mapped ::ffff:a.b.c.d: the IPv4 address decides.
    if segments[..6] == [0, 0, 0, 0, 0, 0xffff] {
        return forbidden_v4(embedded_v4(6));
    }
    // The deprecated IPv4-compatible ::a.b.c.d: never a real destination.
    if segments[..6] == [0; 6] {
        return Some("IPv4-compatible (::/96)");
    }
    // NAT64 (64:ff9b::/96): the IPv4 address it translates to decides.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(embedded_v4(6));
    }
    if segments[0] == 0x64 && segments[1] == 0xff9b && segments[2] == 1 {
        return Some("local-use NAT64 (64:ff9b:1::/48)");
    }
    // 6to4 (2002::/16) embeds an IPv4 address in bits 16..48.
    if segments[0] == 0x2002 {
        return forbidden_v4(embedded_v4(1));
    }
    match segments[0] {
        s if s & 0xfe00 == 0xfc00 => Some("unique local (fc00::/7)"),
        s if s & 0xffc0 == 0xfe80 => Some("link-local (fe80::/10)"),
        s if s & 0xffc0 == 0xfec0 => Some("site-local (fec0::/10)"),
        s if s & 0xff00 == 0xff00 => Some("multicast (ff00::/8)"),
        0x2001 if segments[1] == 0x0db8 => Some("documentation (2001:db8::/32)"),
        0x2001 if segments[1] == 0 => Some("Teredo (2001::/32)"),
        0x0100 if segments[1..4] == [0, 0, 0] => Some("discard (100::/64)"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_pass_and_private_ones_do_not() {
        for ok in
            ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::5db8:d822", "2002:5db8:d822::1"]
        {
            assert_eq!(forbidden(ok.parse().unwrap()), None, "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:c0a8:1::1",
            "ff02::1",
        ] {
            assert!(forbidden(bad.parse().unwrap()).is_some(), "{bad}");
        }
    }
}
