//! The box's network and time settings outside a box, against a real `segl serve`:
//! `segl ctl network|time show|set` go through `GET/PUT /api/v1/network|time`, a change is
//! validated and written to `network.conf` / `time.conf` in the data dir (not applied: no
//! root helper here), an invalid one is refused with the reason and writes nothing, and
//! `segl ctl status` / `GET /api/v1/status` say the clock is trusted. `segl sntp` (the box's
//! SNTP client) reads the time from a Python SNTP responder on loopback.

mod common;

use std::process::{Command, Stdio};

use common::*;

#[test]
fn network_and_time_settings_through_ctl_and_api() {
    let d = temp_dir("segl-appliance");
    let g = Gateway::start_unlicensed(&d.path().join("gw"), 0, 0, "");
    let data = g.dir.join("data");

    let v = g.ctl_json(&["network", "show", "--json"]);
    assert_eq!(v["settings"]["mode"], "dhcp", "{v}");
    assert_eq!(v["on_box"], false);

    let (ok, out) = g.ctl_text(&[
        "network",
        "set",
        "--address",
        "192.0.2.10/24",
        "--gateway",
        "192.0.2.1",
        "--dns",
        "192.0.2.53,2001:db8::53",
        "--hostname",
        "gw.example.org",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("saved; not on a box"), "{out}");
    let conf = std::fs::read_to_string(data.join("network.conf")).unwrap();
    for line in [
        "MODE=static",
        "IFACE=eth0",
        "ADDRESS=192.0.2.10/24",
        "GATEWAY=192.0.2.1",
        "DNS=\"192.0.2.53 2001:db8::53\"",
        "HOSTNAME=gw.example.org",
    ] {
        assert!(
            conf.lines().any(|l| l == line),
            "{line} missing in:\n{conf}"
        );
    }

    // Refused with the reason; the file stays as it was.
    for (args, why) in [
        (
            vec!["network", "set", "--gateway", "198.51.100.1"],
            "not another address in the subnet",
        ),
        (
            vec!["network", "set", "--address", "192.0.2.10/33"],
            "not an IPv4 address with prefix",
        ),
        (
            vec!["network", "set", "--dns", "192.0.2.53;reboot"],
            "not an IP address",
        ),
        (
            vec!["network", "set", "--hostname", "gw$(reboot)"],
            "not a host name",
        ),
        (
            vec!["time", "set", "--timezone", "../../etc/passwd"],
            "not a time zone name",
        ),
        (
            vec!["time", "set", "--timezone", "Europe/Atlantis"],
            "not in the time zone database",
        ),
    ] {
        let (ok, out) = g.ctl_text(&args);
        assert!(!ok && out.contains(why), "{args:?}: {out}");
    }
    assert_eq!(
        std::fs::read_to_string(data.join("network.conf")).unwrap(),
        conf
    );
    assert!(!data.join("time.conf").exists());

    let (ok, out) = g.ctl_text(&["network", "show"]);
    assert!(
        ok && out.contains("192.0.2.10/24 on eth0 (static)"),
        "{out}"
    );
    let (ok, out) = g.ctl_text(&["network", "set", "--dhcp"]);
    assert!(ok, "{out}");
    let conf = std::fs::read_to_string(data.join("network.conf")).unwrap();
    assert!(
        conf.contains("MODE=dhcp") && !conf.contains("ADDRESS"),
        "{conf}"
    );
    assert!(conf.contains("HOSTNAME=gw.example.org"), "{conf}");

    let (ok, out) = g.ctl_text(&[
        "time",
        "set",
        "--ntp",
        "ntp1.example.org,192.0.2.123",
        "--timezone",
        "Europe/Berlin",
    ]);
    assert!(ok, "{out}");
    let t = std::fs::read_to_string(data.join("time.conf")).unwrap();
    assert!(
        t.contains("NTP=\"ntp1.example.org 192.0.2.123\"") && t.contains("TIMEZONE=Europe/Berlin"),
        "{t}"
    );
    let v = g.ctl_json(&["time", "show", "--json"]);
    assert_eq!(v["clock_trusted"], true, "{v}");
    assert_eq!(v["settings"]["timezone"], "Europe/Berlin");
    // The zone applies at once: segl shows the time with the zone's offset (a fixed one here).
    let (ok, out) = g.ctl_text(&["time", "set", "--timezone", "etc/gmt-14"]);
    assert!(ok, "{out}");
    let v = g.ctl_json(&["time", "show", "--json"]);
    assert_eq!(v["settings"]["timezone"], "Etc/GMT-14", "{v}");
    assert!(v["now"].as_str().unwrap().ends_with(" +1400"), "{v}");

    let v = g.ctl_json(&["status", "--json"]);
    assert_eq!(v["clock_trusted"], true, "{v}");
    let (ok, out) = g.ctl_text(&["status"]);
    assert!(
        ok && out.contains("clock:       trusted (later than the firmware's build date)"),
        "{out}"
    );
}

/// A one-shot SNTP responder (stratum 2, 500 s ahead of this machine) on a free UDP port.
const RESPONDER: &str = r#"
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
data, peer = s.recvfrom(512)
def ntp(t):
    t += 2208988800
    return struct.pack("!II", int(t), int((t % 1) * 2**32))
now = time.time() + 500
reply = bytes([0b00100100, 2, 6, 0xec]) + bytes(20) + data[40:48] + ntp(now) + ntp(now)
s.sendto(reply, peer)
"#;

#[test]
fn sntp_reads_the_time_from_a_server() {
    let mut child = Command::new("python3")
        .args(["-c", RESPONDER])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let out = Command::new(SEGL)
        .args(["sntp", "--timeout", "5", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    child.wait().ok();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f: Vec<&str> = text.split_whitespace().collect();
    let offset: f64 = f[1].parse().unwrap();
    assert!((offset - 500.0).abs() < 2.0, "{text}");
    assert_eq!(f[2], format!("127.0.0.1:{port}"));
    // Nothing answers: a clear failure, not a hang.
    let out = Command::new(SEGL)
        .args([
            "sntp",
            "--timeout",
            "1",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
