//! The box's network and time settings as segl edits them (System › Network, System › Time,
//! `segl ctl network|time`, the console menu through the API), and their files in the data
//! partition: `/data/network.conf` and `/data/time.conf`, one `KEY=value` per line.
//!
//! The files are read by root scripts (`/etc/init.d/network`, `/sbin/segl-netd`), so every
//! value is checked here before it is written: addresses are parsed as addresses, names
//! follow RFC 1123, and nothing outside `[A-Za-z0-9._:/+-]` (no blank, quote, `$`, `;`,
//! backquote, newline) can reach a file. The scripts do not `source` the files either; they
//! read each key with `sed` and check it again, so a file edited by hand cannot run code.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// At most this many DNS servers (the resolver reads three).
pub const MAX_DNS: usize = 3;
/// At most this many NTP servers.
pub const MAX_NTP: usize = 4;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// How the box gets its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// DHCP on every Ethernet interface (the factory setting).
    #[default]
    Dhcp,
    /// A fixed IPv4 address on `iface`.
    Static,
}

/// `/data/network.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NetworkSettings {
    #[serde(default)]
    pub mode: Mode,
    /// The interface of a static address (default `eth0`).
    #[serde(default = "default_iface")]
    pub iface: String,
    /// `ADDRESS/PREFIX`, IPv4 (static only).
    #[serde(default)]
    pub address: String,
    /// The default gateway, inside the address's subnet (static only; may be empty).
    #[serde(default)]
    pub gateway: String,
    /// DNS servers (static only; DHCP brings its own).
    #[serde(default)]
    pub dns: Vec<String>,
    /// The box's host name (empty: `segl`).
    #[serde(default)]
    pub hostname: String,
}

fn default_iface() -> String {
    "eth0".to_string()
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            mode: Mode::Dhcp,
            iface: default_iface(),
            address: String::new(),
            gateway: String::new(),
            dns: vec![],
            hostname: String::new(),
        }
    }
}

/// `/data/time.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimeSettings {
    /// NTP servers, host names or addresses (empty: no time synchronisation).
    #[serde(default)]
    pub ntp: Vec<String>,
    /// IANA time zone name (`UTC`, `Europe/Berlin`).
    #[serde(default = "default_tz")]
    pub timezone: String,
}

fn default_tz() -> String {
    "UTC".to_string()
}

impl Default for TimeSettings {
    fn default() -> Self {
        TimeSettings {
            ntp: vec!["pool.ntp.org".to_string()],
            timezone: default_tz(),
        }
    }
}

/// RFC 1123 host name: labels of letters, digits and `-` (not at either end), 1–63
/// characters each, 253 in all.
pub fn check_hostname(field: &'static str, name: &str) -> Result<(), SettingsError> {
    if name.is_empty() || name.len() > 253 {
        return Err(invalid(field, format!("{name:?} is not a host name")));
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(invalid(
                field,
                format!("{name:?} is not a host name (letters, digits, '-' and dots)"),
            ));
        }
    }
    Ok(())
}

fn check_iface(name: &str) -> Result<(), SettingsError> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "iface",
            format!("{name:?} is not an interface name (like eth0)"),
        ))
    }
}

impl NetworkSettings {
    /// Checks every field; for a static address also that it is a host address of its
    /// subnet and that the gateway lies in that subnet. Returns the settings normalised
    /// (trimmed, DHCP without static fields).
    pub fn validated(mut self) -> Result<NetworkSettings, SettingsError> {
        self.iface = self.iface.trim().to_string();
        if self.iface.is_empty() {
            self.iface = default_iface();
        }
        check_iface(&self.iface)?;
        self.hostname = self.hostname.trim().to_ascii_lowercase();
        if !self.hostname.is_empty() {
            check_hostname("hostname", &self.hostname)?;
        }
        self.dns = self
            .dns
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if self.mode == Mode::Dhcp {
            self.address.clear();
            self.gateway.clear();
            self.dns.clear();
            return Ok(self);
        }
        let net: Ipv4Net = self.address.trim().parse().map_err(|_| {
            invalid(
                "address",
                format!(
                    "{:?} is not an IPv4 address with prefix (like 192.0.2.10/24)",
                    self.address
                ),
            )
        })?;
        if net.prefix_len() == 0 {
            return Err(invalid("address", "the prefix must be 1 to 32"));
        }
        let ip = net.addr();
        if ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() || ip.is_loopback() {
            return Err(invalid("address", format!("{ip} cannot be a host address")));
        }
        if net.prefix_len() < 31 && (ip == net.network() || ip == net.broadcast()) {
            return Err(invalid(
                "address",
                format!(
                    "{ip} is the network or broadcast address of {}",
                    net.trunc()
                ),
            ));
        }
        self.address = net.to_string();
        self.gateway = self.gateway.trim().to_string();
        if !self.gateway.is_empty() {
            let gw: Ipv4Addr = self.gateway.parse().map_err(|_| {
                invalid(
                    "gateway",
                    format!("{:?} is not an IPv4 address", self.gateway),
                )
            })?;
            if !net.contains(&gw) || gw == ip {
                return Err(invalid(
                    "gateway",
                    format!("{gw} is not another address in the subnet {}", net.trunc()),
                ));
            }
        }
        if self.dns.len() > MAX_DNS {
            return Err(invalid("dns", format!("at most {MAX_DNS} servers")));
        }
        for d in &mut self.dns {
            let ip: IpAddr = d
                .parse()
                .map_err(|_| invalid("dns", format!("{d:?} is not an IP address")))?;
            *d = ip.to_string();
        }
        Ok(self)
    }

    /// The file text (values validated by [`Self::validated`] first).
    pub fn render(&self) -> String {
        let mut s = String::from(
            "# Network settings of the box, written by segl (System › Network, segl ctl network).\n\
             # Read (not sourced) by /etc/init.d/network at boot and by segl-netd on a change.\n",
        );
        let mode = match self.mode {
            Mode::Dhcp => "dhcp",
            Mode::Static => "static",
        };
        let _ = writeln!(s, "MODE={mode}");
        let _ = writeln!(s, "IFACE={}", self.iface);
        if self.mode == Mode::Static {
            let _ = writeln!(s, "ADDRESS={}", self.address);
            let _ = writeln!(s, "GATEWAY={}", self.gateway);
            let _ = writeln!(s, "DNS=\"{}\"", self.dns.join(" "));
        }
        let _ = writeln!(s, "HOSTNAME={}", self.hostname);
        s
    }

    /// Reads a file in the format above (also the older hand-written one without `MODE`: an
    /// `ADDRESS` means static). What does not validate is an error, so a broken file is shown
    /// as broken rather than silently replaced.
    pub fn parse(text: &str) -> Result<NetworkSettings, SettingsError> {
        let kv = key_values(text);
        let get = |k: &str| {
            kv.iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let address = get("ADDRESS").unwrap_or_default();
        let mode = match get("MODE").as_deref() {
            Some("static") => Mode::Static,
            Some("dhcp") => Mode::Dhcp,
            Some(other) => return Err(invalid("mode", format!("{other:?} is not dhcp or static"))),
            None if !address.is_empty() => Mode::Static,
            None => Mode::Dhcp,
        };
        NetworkSettings {
            mode,
            iface: get("IFACE").unwrap_or_else(default_iface),
            address,
            gateway: get("GATEWAY").unwrap_or_default(),
            dns: words(&get("DNS").unwrap_or_default()),
            hostname: get("HOSTNAME").unwrap_or_default(),
        }
        .validated()
    }
}

impl TimeSettings {
    pub fn validated(mut self) -> Result<TimeSettings, SettingsError> {
        self.ntp = self
            .ntp
            .iter()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if self.ntp.len() > MAX_NTP {
            return Err(invalid("ntp", format!("at most {MAX_NTP} servers")));
        }
        for s in &self.ntp {
            if s.parse::<IpAddr>().is_err() {
                check_hostname("ntp", s)?;
            }
        }
        self.timezone = self.timezone.trim().to_string();
        if self.timezone.is_empty() {
            self.timezone = default_tz();
        }
        let tz = &self.timezone;
        let ok = tz.len() <= 64
            && tz
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+-/".contains(&b))
            && tz.as_bytes()[0].is_ascii_alphabetic()
            && !tz.contains("//")
            && !tz.ends_with('/');
        if !ok {
            return Err(invalid(
                "timezone",
                format!("{tz:?} is not a time zone name (like UTC or Europe/Berlin)"),
            ));
        }
        // The syntax check above keeps the file safe for root; the tz database says whether
        // the zone exists, and gives its spelling (the box's zoneinfo files are case-sensitive).
        match super::zone::lookup(tz) {
            Some((_, canonical)) => self.timezone = canonical,
            None => {
                return Err(invalid(
                    "timezone",
                    format!("{tz:?} is not in the time zone database (try UTC or Europe/Berlin)"),
                ))
            }
        }
        Ok(self)
    }

    pub fn render(&self) -> String {
        format!(
            "# Time settings of the box, written by segl (System › Time, segl ctl time).\n\
             # Read (not sourced) by segl-netd.\nNTP=\"{}\"\nTIMEZONE={}\n",
            self.ntp.join(" "),
            self.timezone
        )
    }

    pub fn parse(text: &str) -> Result<TimeSettings, SettingsError> {
        let kv = key_values(text);
        let get = |k: &str| {
            kv.iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        TimeSettings {
            ntp: words(&get("NTP").unwrap_or_default()),
            timezone: get("TIMEZONE").unwrap_or_else(default_tz),
        }
        .validated()
    }
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// `KEY=value` and `KEY="value"` lines; comments and anything else are skipped.
fn key_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                return None;
            }
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(address: &str, gateway: &str, dns: &[&str]) -> NetworkSettings {
        NetworkSettings {
            mode: Mode::Static,
            address: address.into(),
            gateway: gateway.into(),
            dns: dns.iter().map(|s| s.to_string()).collect(),
            hostname: "box.example.org".into(),
            ..Default::default()
        }
    }

    #[test]
    fn static_round_trip() {
        let s = stat(
            "192.0.2.10/24",
            "192.0.2.1",
            &["192.0.2.53", "2001:db8::53"],
        )
        .validated()
        .unwrap();
        let text = s.render();
        assert!(text.contains("ADDRESS=192.0.2.10/24\n"), "{text}");
        assert!(text.contains("DNS=\"192.0.2.53 2001:db8::53\"\n"), "{text}");
        assert_eq!(NetworkSettings::parse(&text).unwrap(), s);
    }

    #[test]
    fn the_old_hand_written_file_still_reads() {
        let s = NetworkSettings::parse(
            "IFACE=eth0\nADDRESS=192.0.2.10/24\nGATEWAY=192.0.2.1\nDNS=\"192.0.2.53\"\n",
        )
        .unwrap();
        assert_eq!(s.mode, Mode::Static);
        assert_eq!(s.gateway, "192.0.2.1");
    }

    #[test]
    fn refuses_what_a_root_script_must_not_see() {
        let bad = [
            stat("192.0.2.10", "", &[]),
            stat("192.0.2.10/33", "", &[]),
            stat("192.0.2.0/24", "", &[]),
            stat("192.0.2.255/24", "", &[]),
            stat("192.0.2.10/24", "198.51.100.1", &[]),
            stat("192.0.2.10/24", "192.0.2.10", &[]),
            stat("192.0.2.10/24", "192.0.2.1;reboot", &[]),
            stat("192.0.2.10/24", "", &["$(reboot)"]),
            stat(
                "192.0.2.10/24",
                "",
                &["1.1.1.1", "1.0.0.1", "8.8.8.8", "9.9.9.9"],
            ),
        ];
        for s in bad {
            assert!(s.clone().validated().is_err(), "{s:?} was accepted");
        }
        let mut s = stat("192.0.2.10/24", "", &[]);
        s.hostname = "box`reboot`".into();
        assert!(s.validated().is_err());
        let s = NetworkSettings {
            iface: "eth0 up".into(),
            ..Default::default()
        };
        assert!(s.validated().is_err());
        // A file edited by hand with a command in it is an error, not a value.
        assert!(NetworkSettings::parse("ADDRESS=192.0.2.10/24\nGATEWAY=$(reboot)\n").is_err());
    }

    #[test]
    fn dhcp_drops_static_fields() {
        let mut s = stat("192.0.2.10/24", "192.0.2.1", &["192.0.2.53"]);
        s.mode = Mode::Dhcp;
        let s = s.validated().unwrap();
        assert!(s.address.is_empty() && s.gateway.is_empty() && s.dns.is_empty());
        assert!(!s.render().contains("ADDRESS"));
        assert_eq!(NetworkSettings::parse(&s.render()).unwrap(), s);
    }

    #[test]
    fn time_settings() {
        let t = TimeSettings {
            ntp: vec!["Pool.NTP.org".into(), "192.0.2.123".into()],
            timezone: "Europe/Berlin".into(),
        }
        .validated()
        .unwrap();
        assert_eq!(t.ntp, ["pool.ntp.org", "192.0.2.123"]);
        assert_eq!(TimeSettings::parse(&t.render()).unwrap(), t);
        let t = TimeSettings {
            ntp: vec![],
            timezone: " europe/copenhagen ".into(),
        };
        assert_eq!(t.validated().unwrap().timezone, "Europe/Copenhagen");
        for tz in [
            "Europe/../etc",
            "a b",
            "/etc/passwd",
            "$(x)",
            "Europe/",
            "Europe/Atlantis",
        ] {
            let t = TimeSettings {
                ntp: vec![],
                timezone: tz.into(),
            };
            assert!(t.validated().is_err(), "{tz}");
        }
        let t = TimeSettings {
            ntp: vec!["ntp;reboot".into()],
            timezone: "UTC".into(),
        };
        assert!(t.validated().is_err());
    }
}
