//! Community ID flow hashing, version 1 (<https://github.com/corelight/community-id-spec>): a
//! string that names a TCP connection the same way in Zeek, Suricata, Wireshark and here, so a
//! session can be looked up in another tool's logs.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};
use std::net::{IpAddr, SocketAddr};

/// IANA protocol number of TCP.
const PROTO_TCP: u8 = 6;

/// Community ID v1 of the TCP connection between `a` and `b` (either order gives the same ID),
/// with the default seed 0: `1:` followed by the base64 of the SHA-1 over the seed, the two
/// addresses, the protocol, a zero padding byte and the two ports, the endpoint with the
/// smaller address (then port) first.
pub fn tcp(a: SocketAddr, b: SocketAddr) -> String {
    tcp_seeded(a, b, 0)
}

/// [`tcp`] with an explicit seed.
pub fn tcp_seeded(a: SocketAddr, b: SocketAddr, seed: u16) -> String {
    let key = |s: SocketAddr| (ip_bytes(s.ip()), s.port());
    let (first, second) = if key(a) <= key(b) { (a, b) } else { (b, a) };
    let mut hash = Sha1::new();
    hash.update(seed.to_be_bytes());
    hash.update(ip_bytes(first.ip()));
    hash.update(ip_bytes(second.ip()));
    hash.update([PROTO_TCP, 0]);
    hash.update(first.port().to_be_bytes());
    hash.update(second.port().to_be_bytes());
    format!("1:{}", STANDARD.encode(hash.finalize()))
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    /// The spec's baseline (baseline/baseline_deflt.json and baseline_seed1.json), TCP entries.
    #[test]
    fn published_test_vectors() {
        let v4 = (addr("128.232.110.120:34855"), addr("66.35.250.204:80"));
        let v6 = (
            addr("[2001:470:e5bf:dead:4957:2174:e82c:4887]:63943"),
            addr("[2607:f8b0:400c:c03::1a]:25"),
        );
        for ((a, b), seed, want) in [
            (v4, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
            (v4, 1, "1:3V71V58M3Ksw/yuFALMcW0LAHvc="),
            (v6, 0, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
            (v6, 1, "1:eJYTW6AOzFLlSUoESovMjnu7rMw="),
        ] {
            assert_eq!(tcp_seeded(a, b, seed), want, "{a} {b} seed {seed}");
            assert_eq!(tcp_seeded(b, a, seed), want, "{b} {a} seed {seed}");
        }
        assert_eq!(tcp(v4.0, v4.1), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    }

    #[test]
    fn same_address_orders_by_port() {
        let a = addr("127.0.0.1:38230");
        let b = addr("127.0.0.1:61004");
        assert_eq!(tcp(a, b), tcp(b, a));
        assert_ne!(tcp(a, b), tcp(a, addr("127.0.0.1:61005")));
    }
}
