//! Test fixtures for the S/MIME tests: a CA and users made with openssl at test time, and
//! helpers to run the peer tools. A missing tool fails the test loudly (no silent skip).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use segl::smime::{certs, AwsLcRsaKey, Certificate};

pub struct Fixture {
    pub dir: tempfile::TempDir,
}

pub fn run(cmd: &str, args: &[&str], stdin: Option<&[u8]>, cwd: &Path) -> Vec<u8> {
    let out =
        try_run(cmd, args, stdin, cwd).unwrap_or_else(|e| panic!("{cmd} {args:?} failed: {e}"));
    out
}

pub fn try_run(
    cmd: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
    cwd: &Path,
) -> Result<Vec<u8>, String> {
    let mut child = Command::new(cmd)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("required tool `{cmd}` is not installed or not runnable: {e}"));
    {
        let mut si = child.stdin.take().unwrap();
        if let Some(data) = stdin {
            // A tool that does not read its input may exit first: that is not an error.
            if let Err(e) = si.write_all(data) {
                assert!(
                    e.kind() == std::io::ErrorKind::BrokenPipe,
                    "writing to `{cmd}`: {e}"
                );
            }
        }
    }
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

const USER_EXT: &str = "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment,nonRepudiation
extendedKeyUsage=emailProtection
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
";

impl Fixture {
    /// CA, intermediate-free users alice (us), bob (peer, RSA), carol (peer, EC P-256),
    /// and a signing-only certificate.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "30",
                "-subj",
                "/CN=Segl Test CA/O=Segl",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            None,
            d,
        );
        for (name, key) in [
            ("alice", "rsa:2048"),
            ("bob", "rsa:2048"),
            ("carol", "ec"),
            ("signonly", "rsa:2048"),
            ("dave", "rsa:2048"),
        ] {
            let mut args = vec!["req", "-newkey", key, "-nodes"];
            if key == "ec" {
                args.extend(["-pkeyopt", "ec_paramgen_curve:P-256"]);
            }
            let keyfile = format!("{name}.key");
            let csr = format!("{name}.csr");
            let subj = format!("/CN={name}/emailAddress={name}@example.org");
            args.extend(["-keyout", &keyfile, "-out", &csr, "-subj", &subj]);
            run("openssl", &args, None, d);
            let ext = if name == "signonly" {
                USER_EXT.replace("digitalSignature,keyEncipherment", "digitalSignature")
            } else {
                USER_EXT.to_string()
            };
            std::fs::write(
                d.join(format!("{name}.ext")),
                format!("{ext}subjectAltName=email:{name}@example.org\n"),
            )
            .unwrap();
            run(
                "openssl",
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "30",
                    "-extfile",
                    &format!("{name}.ext"),
                    "-out",
                    &format!("{name}.pem"),
                ],
                None,
                d,
            );
        }
        Fixture { dir }
    }

    pub fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }
    pub fn p(&self, f: &str) -> String {
        self.path(f).to_string_lossy().into_owned()
    }
    pub fn read(&self, f: &str) -> Vec<u8> {
        std::fs::read(self.path(f)).unwrap()
    }
    pub fn write(&self, f: &str, data: &[u8]) {
        std::fs::write(self.path(f), data).unwrap()
    }
    pub fn cert(&self, name: &str) -> Certificate {
        certs::parse_pem(&self.read(&format!("{name}.pem"))).unwrap()
    }
    pub fn key(&self, name: &str) -> AwsLcRsaKey {
        AwsLcRsaKey::from_pem(
            &String::from_utf8(self.read(&format!("{name}.key"))).unwrap(),
            &String::from_utf8(self.read(&format!("{name}.pem"))).unwrap(),
        )
        .unwrap()
    }
    pub fn ca(&self) -> Certificate {
        self.cert("ca")
    }
    pub fn openssl(&self, args: &[&str]) -> Vec<u8> {
        run("openssl", args, None, self.dir.path())
    }
}

pub fn sample_message() -> Vec<u8> {
    b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Quarterly report\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHello Bob,\r\nthe numbers are fine. Gr\xc3\xbc\xc3\x9fe\r\nFrom the beginning of a line.\r\n".to_vec()
}

/// The message from `bob` as a peer would write it (LF line endings are fine for openssl).
pub fn peer_message(from: &str) -> Vec<u8> {
    format!("From: {from}@example.org\r\nTo: alice@example.org\r\nSubject: from a peer\r\nContent-Type: text/plain\r\n\r\nSecret text from {from}.\r\n").into_bytes()
}

/// Splits a multipart/signed message into (signed content, DER signature) for tools that
/// want them separately (gpgsm, cmsutil).
pub fn split_signed(msg: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let s = String::from_utf8_lossy(msg).into_owned();
    let b_start = s.find("boundary=\"").unwrap() + 10;
    let boundary = &s[b_start..b_start + s[b_start..].find('"').unwrap()];
    let delim = format!("--{boundary}");
    let mut parts = s.split(&delim).skip(1);
    let first = parts.next().unwrap();
    let second = parts.next().unwrap();
    let content = first
        .strip_prefix("\r\n")
        .unwrap()
        .strip_suffix("\r\n")
        .unwrap();
    let body = second.split("\r\n\r\n").nth(1).unwrap();
    let der = base64_decode(body);
    (content.as_bytes().to_vec(), der)
}

/// The DER of an application/pkcs7-mime message body.
pub fn p7m_der(msg: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(msg).into_owned();
    let body = s.split("\r\n\r\n").nth(1).unwrap();
    base64_decode(body)
}

pub fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .unwrap()
}

/// Wraps a DER CMS object in MIME (gpgsm and cmsutil write bare CMS).
pub fn wrap_p7m(smime_type: &str, der: &[u8], from: &str) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!("From: {from}@example.org\r\nTo: alice@example.org\r\nSubject: wrapped\r\nMIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type={smime_type}; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n", lines.join("\r\n")).into_bytes()
}

/// Builds a multipart/signed message around content and a detached DER signature.
pub fn wrap_signed(content: &[u8], sig: &[u8], from: &str) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(sig);
    let mut out = format!("From: {from}@example.org\r\nTo: alice@example.org\r\nSubject: signed by a peer\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"XYZ\"\r\n\r\n--XYZ\r\n").into_bytes();
    out.extend_from_slice(content);
    out.extend_from_slice(format!("\r\n--XYZ\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--XYZ--\r\n").as_bytes());
    out
}
