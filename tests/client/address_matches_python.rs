//! Address classification cross-checked against an independent
//! implementation: Python's `ipaddress` module (`is_global`). Every address
//! Python considers non-global must be refused by archipel's SSRF guard
//! (archipel may be stricter, e.g. on multicast and 6to4). Skips with a
//! notice when `python3` is not installed (a failure under
//! `ARCHIPEL_REQUIRE_PEERS=1`).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};

use archipel::client::classify;

fn sample() -> Vec<IpAddr> {
    let mut out = Vec::new();
    for a in 0..=255u8 {
        for b in [0u8, 1, 15, 16, 31, 32, 63, 64, 127, 128, 168, 169, 254, 255] {
            for c in [0u8, 2, 99, 100, 113] {
                for d in [1u8, 255] {
                    let v4 = Ipv4Addr::new(a, b, c, d);
                    out.push(IpAddr::V4(v4));
                    if d == 1 && c == 0 {
                        out.push(IpAddr::V6(v4.to_ipv6_mapped()));
                    }
                }
            }
        }
    }
    for first in [
        0x0000u16, 0x0064, 0x0100, 0x2001, 0x2002, 0x2400, 0x2606, 0x2a00, 0x3fff, 0x4000, 0xfc00,
        0xfd00, 0xfe80, 0xfebf, 0xfec0, 0xff02,
    ] {
        for second in [0u16, 1, 2, 0x10, 0x20, 0x1ff, 0x200, 0xdb8, 0xff9b] {
            for last in [0u16, 1] {
                out.push(IpAddr::V6(Ipv6Addr::new(
                    first, second, 0, 0, 0, 0, 0, last,
                )));
                out.push(IpAddr::V6(Ipv6Addr::new(
                    first, second, 1, 0, 0, 0, 0, last,
                )));
            }
        }
    }
    out
}

#[test]
fn non_global_per_python_is_refused() {
    let addrs = sample();
    let child = Command::new("python3")
        .args([
            "-c",
            "import sys, ipaddress\nfor l in sys.stdin:\n    print(int(ipaddress.ip_address(l.strip()).is_global))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        crate::support::skip_or_fail("python3", "not found on PATH");
        return;
    };
    // Write from another thread so neither side blocks on a full pipe.
    let mut stdin = child.stdin.take().unwrap();
    let input: String = addrs.iter().map(|a| format!("{a}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    let verdicts: Vec<bool> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l == "1")
        .collect();
    assert_eq!(verdicts.len(), addrs.len());
    let mut disagreements = Vec::new();
    let mut checked_non_global = 0;
    for (addr, global) in addrs.iter().zip(verdicts) {
        if !global {
            checked_non_global += 1;
            if classify(*addr).is_public() {
                disagreements.push(addr.to_string());
            }
        }
    }
    assert!(checked_non_global > 1000);
    assert!(
        disagreements.is_empty(),
        "public per archipel but not global per Python: {disagreements:?}"
    );
}
