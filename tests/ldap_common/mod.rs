//! A real OpenLDAP `slapd` for tests: its own configuration and database in a test directory,
//! on a loopback port, entries loaded with `ldapadd` (certificate lookup, user import).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

pub const SUFFIX: &str = "dc=partner,dc=test";

/// A slapd of our own: `slapd -f <conf> -h ldap://127.0.0.1:<port>/`, in the foreground.
pub struct Slapd {
    pub proc: Proc,
    pub port: u16,
}

pub fn tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

impl Slapd {
    pub fn start(dir: &Path) -> Option<Slapd> {
        Slapd::start_tls(dir, None).map(|(s, _)| s)
    }

    /// With `tls` (certificate and key PEM files) it also listens for ldaps:// on the second
    /// port returned.
    pub fn start_tls(dir: &Path, tls: Option<(&str, &str)>) -> Option<(Slapd, u16)> {
        let slapd = tool("slapd")?;
        tool("ldapadd")?;
        std::fs::create_dir_all(dir.join("db")).unwrap();
        let tls_conf = tls
            .map(|(c, k)| format!("TLSCertificateFile {c}\nTLSCertificateKeyFile {k}\n"))
            .unwrap_or_default();
        let conf = format!(
            "{tls_conf}include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\ninclude /etc/ldap/schema/inetorgperson.schema\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\npidfile {d}/slapd.pid\ndatabase mdb\nmaxsize 10485760\nsuffix \"{SUFFIX}\"\nrootdn \"cn=admin,{SUFFIX}\"\nrootpw secret\ndirectory {d}/db\n",
            d = dir.display()
        );
        std::fs::write(dir.join("slapd.conf"), conf).unwrap();
        let port = free_port();
        let tls_port = if tls.is_some() { free_port() } else { 0 };
        let mut listen = format!("ldap://127.0.0.1:{port}/");
        if tls.is_some() {
            listen.push_str(&format!(" ldaps://127.0.0.1:{tls_port}/"));
        }
        let proc = Proc::spawn(
            "slapd",
            Command::new(slapd).args([
                "-f",
                dir.join("slapd.conf").to_str().unwrap(),
                "-h",
                &listen,
                "-d",
                "0",
            ]),
        );
        wait_port(port);
        if tls.is_some() {
            wait_port(tls_port);
        }
        Some((Slapd { proc, port }, tls_port))
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}/{SUFFIX}", self.port)
    }

    pub fn add(&self, ldif: &str, dir: &Path) {
        let f = dir.join(format!("add-{}.ldif", free_port()));
        std::fs::write(&f, ldif).unwrap();
        let out = Command::new(tool("ldapadd").unwrap())
            .args([
                "-x",
                "-H",
                &format!("ldap://127.0.0.1:{}", self.port),
                "-D",
                &format!("cn=admin,{SUFFIX}"),
                "-w",
                "secret",
                "-f",
                f.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ldapadd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
