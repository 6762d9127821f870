//! A one-shot SNTP client (RFC 4330): `segl sntp SERVER…` asks the servers in turn and prints
//! the first good answer as `<server unix time> <offset seconds> <server>`.
//!
//! Why here: Debian's `busybox-static` has no `ntpd` applet, and chrony or ntpd would bring
//! a dynamic program with its libraries into an initramfs whose only big program is a static
//! segl. The root helper `segl-netd` runs this as user `segl` (it needs no privilege to ask)
//! and sets the clock itself from the printed time; only setting the clock needs root.
//! A reply counts only if it answers our request (its origin timestamp is the one we sent),
//! comes from a synchronised server (stratum 1–15, leap indicator not "alarm") and carries a
//! transmit time.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds between 1900 (NTP's era 0) and 1970.
const NTP_UNIX_OFFSET: f64 = 2_208_988_800.0;

#[derive(Debug, thiserror::Error)]
pub enum SntpError {
    #[error("{0}: cannot resolve: {1}")]
    Resolve(String, String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: {1}")]
    BadReply(String, &'static str),
}

/// One good answer.
#[derive(Debug, Clone)]
pub struct Sample {
    pub server: String,
    /// The server's time when the answer arrived (local arrival time corrected by the offset).
    pub server_unix: f64,
    /// How far the local clock is behind (+) or ahead (−) of the server, seconds.
    pub offset: f64,
}

fn now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn to_ntp(unix: f64) -> [u8; 8] {
    let t = unix + NTP_UNIX_OFFSET;
    let secs = t.trunc() as u64 as u32;
    let frac = (t.fract() * 4_294_967_296.0) as u64 as u32;
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&secs.to_be_bytes());
    out[4..].copy_from_slice(&frac.to_be_bytes());
    out
}

fn from_ntp(b: &[u8]) -> f64 {
    let secs = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64;
    let frac = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as f64 / 4_294_967_296.0;
    secs + frac - NTP_UNIX_OFFSET
}

/// The server's address: an IP address (port 123), `ip:port`, or a host name looked up with
/// segl's own resolver (`/etc/resolv.conf`): a static binary cannot rely on the C library's
/// name service modules.
fn resolve(server: &str) -> Result<SocketAddr, SntpError> {
    if let Ok(ip) = server.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 123));
    }
    if let Ok(sa) = server.parse::<SocketAddr>() {
        return Ok(sa);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SntpError::Resolve(server.into(), e.to_string()))?;
    rt.block_on(async {
        let r = hickory_resolver::TokioResolver::builder_tokio()
            .and_then(|b| b.build())
            .map_err(|e| SntpError::Resolve(server.into(), e.to_string()))?;
        let name = format!("{}.", server.trim_end_matches('.'));
        let ips = r
            .lookup_ip(name)
            .await
            .map_err(|e| SntpError::Resolve(server.into(), e.to_string()))?;
        ips.iter()
            .next()
            .map(|ip| SocketAddr::new(ip, 123))
            .ok_or_else(|| SntpError::BadReply(server.into(), "no address"))
    })
}

/// Asks one server (`host` or `host:port`, default port 123).
pub fn query(server: &str, timeout: Duration) -> Result<Sample, SntpError> {
    let addr = resolve(server)?;
    let io = |e| SntpError::Io(server.into(), e);
    let bind = if addr.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let sock = UdpSocket::bind(bind).map_err(io)?;
    sock.set_read_timeout(Some(timeout)).map_err(io)?;
    sock.connect(addr).map_err(io)?;
    let mut req = [0u8; 48];
    req[0] = 0b00_100_011; // LI 0, version 4, mode 3 (client)
    let t1 = now_f64();
    let origin = to_ntp(t1);
    req[40..48].copy_from_slice(&origin);
    sock.send(&req).map_err(io)?;
    let mut buf = [0u8; 512];
    loop {
        let n = sock.recv(&mut buf).map_err(io)?;
        let t4 = now_f64();
        if n < 48 || buf[24..32] != origin {
            // Not the answer to this request (late or forged): wait for the right one.
            continue;
        }
        let bad = |why| Err(SntpError::BadReply(server.into(), why));
        if buf[0] & 0b111 != 4 {
            return bad("not a server reply");
        }
        if buf[0] >> 6 == 3 {
            return bad("the server is not synchronised (leap indicator alarm)");
        }
        if !(1..=15).contains(&buf[1]) {
            return bad("the server is not synchronised (stratum)");
        }
        if buf[40..48].iter().all(|&b| b == 0) {
            return bad("no transmit time");
        }
        let t2 = from_ntp(&buf[32..40]);
        let t3 = from_ntp(&buf[40..48]);
        let offset = ((t2 - t1) + (t3 - t4)) / 2.0;
        return Ok(Sample {
            server: server.into(),
            server_unix: t4 + offset,
            offset,
        });
    }
}

/// Asks each server in turn; the first good answer, or every failure.
pub fn query_any(servers: &[String], timeout: Duration) -> Result<Sample, Vec<SntpError>> {
    let mut errors = vec![];
    for s in servers {
        match query(s, timeout) {
            Ok(sample) => return Ok(sample),
            Err(e) => errors.push(e),
        }
    }
    Err(errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server on loopback that answers 1000 s ahead of the local clock.
    fn fake_server(stratum: u8) -> (String, std::thread::JoinHandle<()>) {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap().to_string();
        let h = std::thread::spawn(move || {
            let mut buf = [0u8; 48];
            let (_, peer) = sock.recv_from(&mut buf).unwrap();
            let mut reply = [0u8; 48];
            reply[0] = 0b00_100_100;
            reply[1] = stratum;
            reply[24..32].copy_from_slice(&buf[40..48]);
            let t = now_f64() + 1000.0;
            reply[32..40].copy_from_slice(&to_ntp(t));
            reply[40..48].copy_from_slice(&to_ntp(t));
            sock.send_to(&reply, peer).unwrap();
        });
        (addr, h)
    }

    #[test]
    fn offset_from_a_server() {
        let (addr, h) = fake_server(2);
        let s = query(&addr, Duration::from_secs(5)).unwrap();
        h.join().unwrap();
        assert!((s.offset - 1000.0).abs() < 1.0, "{s:?}");
        assert!((s.server_unix - now_f64() - 1000.0).abs() < 2.0);
    }

    #[test]
    fn unsynchronised_server_is_refused() {
        let (addr, h) = fake_server(0);
        let e = query(&addr, Duration::from_secs(5)).unwrap_err();
        h.join().unwrap();
        assert!(e.to_string().contains("not synchronised"), "{e}");
    }

    #[test]
    fn ntp_timestamps_round_trip() {
        let t = 1_800_000_000.25;
        assert!((from_ntp(&to_ntp(t)) - t).abs() < 1e-6);
    }
}
