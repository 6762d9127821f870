//! Shared fixtures of the policy end-to-end tests: a test PKI made with openssl, SMTP senders
//! (Python smtplib) and helpers to read what the sinks received.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::smime_common::{run, try_run};

pub fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("segl-policy-")
        .tempdir()
        .unwrap()
}

/// A partner PKI made with openssl: a CA (`pca`) and users with chosen addresses.
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "pca.key",
                "-out",
                "pca.pem",
                "-days",
                "30",
                "-subj",
                "/CN=Partner CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            None,
            dir,
        );
        Pki {
            dir: dir.to_path_buf(),
        }
    }

    pub fn p(&self, f: &str) -> String {
        self.dir.join(f).to_string_lossy().into_owned()
    }

    /// `name.key` + `name.pem` for `san` (e.g. `email:bob@partner.test`), issued by the CA.
    pub fn user(&self, name: &str, san: &str) {
        self.issue(name, &format!("/CN={name}"), &user_ext(san), None);
    }

    /// `name.key` + `name.pem` with subject `subj` and the extensions `ext` (openssl extfile
    /// lines), issued by the partner CA: for 30 days with `openssl x509 -req`, or from `start`
    /// to `end` (`YYYYMMDDHHMMSSZ`) with `openssl ca`.
    pub fn issue(&self, name: &str, subj: &str, ext: &str, dates: Option<(&str, &str)>) {
        let (key, csr, extf, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.ext"),
            format!("{name}.pem"),
        );
        self.openssl(&[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", subj,
        ]);
        self.write(&extf, ext.as_bytes());
        match dates {
            None => self.openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "pca.pem",
                "-CAkey",
                "pca.key",
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                &extf,
                "-out",
                &pem,
            ]),
            Some((start, end)) => {
                self.ca_cnf();
                self.openssl(&[
                    "ca",
                    "-config",
                    "pca.cnf",
                    "-batch",
                    "-notext",
                    "-keyfile",
                    "pca.key",
                    "-cert",
                    "pca.pem",
                    "-in",
                    &csr,
                    "-out",
                    &pem,
                    "-extfile",
                    &extf,
                    "-startdate",
                    start,
                    "-enddate",
                    end,
                ])
            }
        };
    }

    /// A self-signed certificate (no chain to any anchor).
    pub fn self_signed(&self, name: &str, email: &str) {
        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
                "-days",
                "30",
                "-subj",
                &format!("/CN={name}"),
                "-addext",
                &format!("subjectAltName=email:{email}"),
                "-addext",
                "keyUsage=critical,digitalSignature,keyEncipherment",
                "-addext",
                "extendedKeyUsage=emailProtection",
            ],
            None,
            &self.dir,
        );
    }

    /// `openssl ca` configuration over the partner CA (for dated certificates and CRLs).
    fn ca_cnf(&self) {
        if self.dir.join("pca.cnf").exists() {
            return;
        }
        self.write(
            "pca.cnf",
            b"[ca]\ndefault_ca = d\n[d]\ndir = .\ndatabase = index.txt\nnew_certs_dir = .\nserial = pca-ca.srl\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\npolicy = pol\nunique_subject = no\n[pol]\ncommonName = supplied\n",
        );
        self.write("index.txt", b"");
        self.write("crlnumber", b"01\n");
        // Own serial file: `x509 -CAcreateserial` keeps the last serial it used in pca.srl.
        self.write("pca-ca.srl", b"7E57000001\n");
    }

    /// Like [`Pki::user`], but valid only from `start` to `end` (`YYYYMMDDHHMMSSZ`), e.g. an
    /// expired certificate.
    pub fn user_dated(&self, name: &str, san: &str, start: &str, end: &str) {
        self.issue(
            name,
            &format!("/CN={name}"),
            &user_ext(san),
            Some((start, end)),
        );
    }

    /// Revokes `name.pem` and writes the partner CA's CRL (DER) to `pca.crl`; returns its path.
    pub fn revoke(&self, name: &str) -> String {
        self.ca_cnf();
        let ca = [
            "ca", "-config", "pca.cnf", "-keyfile", "pca.key", "-cert", "pca.pem",
        ];
        let revoke = format!("{name}.pem");
        self.openssl(&[&ca[..], &["-revoke", &revoke]].concat());
        self.openssl(&[&ca[..], &["-gencrl", "-out", "pca.crl.pem"]].concat());
        self.openssl(&[
            "crl",
            "-in",
            "pca.crl.pem",
            "-outform",
            "DER",
            "-out",
            "pca.crl",
        ]);
        self.p("pca.crl")
    }

    pub fn write(&self, f: &str, data: &[u8]) {
        std::fs::write(self.dir.join(f), data).unwrap();
    }

    pub fn read(&self, f: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(f)).unwrap()
    }

    pub fn openssl(&self, args: &[&str]) -> Vec<u8> {
        run("openssl", args, None, &self.dir)
    }

    pub fn try_openssl(&self, args: &[&str], stdin: &[u8]) -> Result<Vec<u8>, String> {
        try_run("openssl", args, Some(stdin), &self.dir)
    }

    /// Decrypts a message Segl sent with `name`'s key; returns the decrypted entity.
    pub fn decrypt(&self, name: &str, msg: &[u8]) -> Vec<u8> {
        self.try_openssl(
            &[
                "cms",
                "-decrypt",
                "-recip",
                &format!("{name}.pem"),
                "-inkey",
                &format!("{name}.key"),
            ],
            msg,
        )
        .unwrap_or_else(|e| panic!("{name} cannot decrypt: {e}"))
    }

    /// Verifies a signed entity against Segl's CA (`segl-ca.pem`); returns the signed content and
    /// the signer certificate's e-mail address.
    pub fn verify_signer(&self, msg: &[u8]) -> (Vec<u8>, String) {
        let signer = format!("signer-{}.pem", free_port());
        let content = self
            .try_openssl(
                &[
                    "cms",
                    "-verify",
                    "-CAfile",
                    "segl-ca.pem",
                    "-signer",
                    &signer,
                ],
                msg,
            )
            .unwrap_or_else(|e| panic!("signature does not verify: {e}"));
        let email = self.openssl(&["x509", "-in", &signer, "-noout", "-email"]);
        (
            content,
            String::from_utf8_lossy(&email).trim().to_ascii_lowercase(),
        )
    }

    /// Verifies a signed entity against `ca` (a file in this dir); returns the signed content.
    pub fn verify(&self, ca: &str, msg: &[u8]) -> Result<Vec<u8>, String> {
        self.try_openssl(&["cms", "-verify", "-CAfile", ca], msg)
    }
}

/// Extensions of an S/MIME user certificate for `san`.
fn user_ext(san: &str) -> String {
    format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName={san}\n")
}

/// A clear-signed message by `name` (openssl cms -sign) with `text` as its content.
pub fn partner_signed(
    pki: &Pki,
    name: &str,
    from: &str,
    to: &str,
    subject: &str,
    text: &str,
) -> Vec<u8> {
    pki.write(
        "content.txt",
        format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n").as_bytes(),
    );
    pki.openssl(&[
        "cms",
        "-sign",
        "-in",
        "content.txt",
        "-signer",
        &format!("{name}.pem"),
        "-inkey",
        &format!("{name}.key"),
        "-from",
        from,
        "-to",
        to,
        "-subject",
        subject,
        "-out",
        "signed.eml",
    ]);
    pki.read("signed.eml")
}

pub fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "ctl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sends `data` over SMTP to the MX/relay port (from 127.0.0.1: a trusted network).
pub fn send(port: u16, from: &str, to: &[&str], data: &[u8], dir: &Path) {
    let f = dir.join(format!("out-{}.eml", free_port()));
    std::fs::write(&f, data).unwrap();
    python(&format!(
        r#"
import smtplib
s = smtplib.SMTP("127.0.0.1", {port})
s.sendmail({from:?}, {to:?}, open({f:?}, "rb").read())
s.quit()
"#
    ));
}

/// Sends over the submission port with STARTTLS and AUTH.
pub fn send_auth(
    port: u16,
    user: &str,
    pw: &str,
    from: &str,
    to: &[&str],
    data: &[u8],
    dir: &Path,
) {
    let f = dir.join(format!("out-{}.eml", free_port()));
    std::fs::write(&f, data).unwrap();
    python(&format!(
        r#"
import smtplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", {port})
s.starttls(context=ctx)
s.login({user:?}, {pw:?})
s.sendmail({from:?}, {to:?}, open({f:?}, "rb").read())
s.quit()
"#
    ));
}

pub fn mail(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!("From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n", free_port()).into_bytes()
}

pub fn for_rcpt<'a>(msgs: &'a [Stored], rcpt: &str) -> &'a Stored {
    msgs.iter()
        .find(|m| m.rcpts().iter().any(|r| r == rcpt))
        .unwrap_or_else(|| panic!("no message for {rcpt}"))
}

pub fn is_signed(m: &Stored) -> bool {
    m.text().contains("multipart/signed")
}

pub fn is_encrypted(m: &Stored) -> bool {
    m.text().contains("application/pkcs7-mime") && m.text().contains("enveloped-data")
}

pub fn header(m: &Stored, name: &str) -> Option<String> {
    let text = m.text();
    let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
    // Unfold: a continuation line belongs to the field before it.
    let head = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    head.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l.split_once(':').unwrap().1.trim().to_string())
}

/// Segl's built-in CA certificate, written into the PKI dir as `segl-ca.pem`.
pub fn segl_ca(g: &Gateway, pki: &Pki) {
    let ca = ok(g.ctl(&["key", "ca-cert"]));
    pki.write("segl-ca.pem", ca.as_bytes());
}

pub fn keygen(g: &Gateway, email: &str) {
    ok(g.ctl(&["key", "generate", "--email", email]));
}
