//! Signature layouts made by every peer, sent through the whole gateway (SMTP in → inbound
//! policy → sink): opaque and clear-signed from OpenSSL, gpgsm, NSS, Bouncy Castle and Python
//! `cryptography` with SHA-1/256/384/512, nested layers (opaque over clear-signed with two
//! signers, opaque inside enveloped, clear-signed then NSS-encrypted, encrypted then signed),
//! each intact and with one byte of the signed content or of the signed attributes changed.
//! Writes `docs/interop-gateway.md`.

use std::path::Path;

use crate::common::*;
use crate::policy_common::{header, ok};
use crate::smime_common::*;

const PHRASE: &str = "TAMPER-ME";
const BC_JARS: [&str; 6] = [
    "bcprov.jar",
    "bcpkix.jar",
    "bcutil.jar",
    "bcmail.jar",
    "javax.mail.jar",
    "javax.activation.jar",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    Intact,
    Content,
    Attrs,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Intact => "intact",
            Variant::Content => "content changed",
            Variant::Attrs => "signed attributes changed",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Opaque,
    Detached,
}

/// What the reader must find.
struct Expect {
    overall: &'static str,
    layers: Vec<&'static str>,
    encryption: &'static str,
    /// The delivered S/MIME entity still verifies with `openssl cms -verify`.
    reader_verifies: bool,
    /// The delivered message contains this text (decrypted content).
    contains: Option<&'static str>,
    weak: bool,
}

struct Row {
    peer: &'static str,
    layout: String,
    variant: Variant,
    subject: String,
    msg: Vec<u8>,
    expect: Expect,
}

const DIGESTS: [&str; 4] = ["SHA1", "SHA256", "SHA384", "SHA512"];

fn entity(text: &str) -> Vec<u8> {
    format!("Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{PHRASE} {text}\r\n").into_bytes()
}

fn b64_lines(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    b64.as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// A bare CMS object as a MIME entity.
fn p7m_entity(smime_type: &str, der: &[u8]) -> Vec<u8> {
    format!("Content-Type: application/pkcs7-mime; smime-type={smime_type}; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=smime.p7m\r\n\r\n{}\r\n", b64_lines(der)).into_bytes()
}

/// `content` and a detached signature as a `multipart/signed` entity.
fn signed_entity(content: &[u8], sig: &[u8], micalg: &str) -> Vec<u8> {
    let mut out = format!("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg={micalg}; boundary=\"sig-{micalg}-b\"\r\n\r\n--sig-{micalg}-b\r\n").into_bytes();
    out.extend_from_slice(content);
    out.extend_from_slice(format!("\r\n--sig-{micalg}-b\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--sig-{micalg}-b--\r\n", b64_lines(sig)).as_bytes());
    out
}

/// An entity as a whole message from bob to alice.
fn message(entity: &[u8], subject: &str) -> Vec<u8> {
    let mut out = format!("From: bob@example.org\r\nTo: alice@example.org\r\nSubject: {subject}\r\nMessage-ID: <{subject}@peer.test>\r\nMIME-Version: 1.0\r\n").into_bytes();
    out.extend_from_slice(&crlf(entity));
    out
}

/// An entity without the header fields that belong to a message (for nesting).
fn strip_message_fields(msg: &[u8]) -> Vec<u8> {
    let msg = crlf(msg);
    let text = String::from_utf8_lossy(&msg).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut kept = String::new();
    let mut keep = false;
    for line in head.split("\r\n") {
        if !line.starts_with([' ', '\t']) {
            let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
            keep = name.starts_with("content-");
        }
        if keep {
            kept.push_str(line);
            kept.push_str("\r\n");
        }
    }
    format!("{kept}\r\n{body}").into_bytes()
}

fn crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 40);
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' && (i == 0 || b[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Changes one byte of the signed content (the phrase) inside a CMS object.
fn tamper_der_content(der: &mut [u8]) {
    let i = find(der, PHRASE.as_bytes()).expect("phrase in the signed content") + 7;
    der[i] = b'W';
}

/// Changes one digit of the signingTime attribute (the seconds), or else one byte of the
/// messageDigest attribute, inside a CMS object.
fn tamper_der_attrs(der: &mut [u8]) {
    const SIGNING_TIME: [u8; 11] = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05,
    ];
    const MESSAGE_DIGEST: [u8; 11] = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04,
    ];
    if let Some(i) = find(der, &SIGNING_TIME) {
        // OID, SET (31 len), UTCTime/GeneralizedTime (17|18 len) "…ssZ": the last seconds digit.
        let set = i + SIGNING_TIME.len();
        let time = set + 2;
        let len = der[time + 1] as usize;
        let last_digit = time + 2 + len - 2;
        der[last_digit] = if der[last_digit] == b'0' { b'1' } else { b'0' };
    } else {
        let i = find(der, &MESSAGE_DIGEST).expect("messageDigest attribute");
        let value = i + MESSAGE_DIGEST.len() + 2 + 2;
        der[value + 3] ^= 0x01;
    }
}

/// (head, body) of a message or entity.
fn split_head(msg: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let i = find(msg, b"\r\n\r\n").unwrap();
    (msg[..i + 4].to_vec(), msg[i + 4..].to_vec())
}

/// Applies `f` to the CMS object of an opaque message, or of the signature part of a
/// clear-signed one.
fn edit_cms(msg: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let (head, body) = split_head(msg);
    let head_s = String::from_utf8_lossy(&head).to_ascii_lowercase();
    if head_s.contains("multipart/signed") {
        let at = find(&body, b"application/pkcs7-signature").unwrap();
        let start = at + find(&body[at..], b"\r\n\r\n").unwrap() + 4;
        let end = start + find(&body[start..], b"\r\n--").unwrap();
        let mut der = base64_decode(std::str::from_utf8(&body[start..end]).unwrap());
        f(&mut der);
        let mut out = head;
        out.extend_from_slice(&body[..start]);
        out.extend_from_slice(b64_lines(&der).as_bytes());
        out.extend_from_slice(&body[end..]);
        out
    } else {
        let mut der = base64_decode(std::str::from_utf8(&body).unwrap());
        f(&mut der);
        let mut out = head;
        out.extend_from_slice(b64_lines(&der).as_bytes());
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// One byte of the signed content changed. A clear-signed message has it in plain text (or,
/// when the signed part is encrypted, one base64 letter of the ciphertext changes).
fn tamper_content(msg: &[u8]) -> Vec<u8> {
    let (head, body) = split_head(msg);
    if String::from_utf8_lossy(&head)
        .to_ascii_lowercase()
        .contains("multipart/signed")
    {
        let mut body = body;
        match find(&body, PHRASE.as_bytes()) {
            Some(i) => body[i + 7] = b'W',
            None => {
                // Encrypted, then signed: a letter in the middle of the encrypted part.
                let at = find(&body, b"enveloped-data").unwrap();
                let start = at + find(&body[at..], b"\r\n\r\n").unwrap() + 4;
                let i = start + 200;
                body[i] = if body[i] == b'A' { b'B' } else { b'A' };
            }
        }
        [head, body].concat()
    } else {
        edit_cms(msg, |d| tamper_der_content(d))
    }
}

fn tamper(msg: &[u8], v: Variant) -> Vec<u8> {
    match v {
        Variant::Intact => msg.to_vec(),
        Variant::Content => tamper_content(msg),
        Variant::Attrs => edit_cms(msg, |d| tamper_der_attrs(d)),
    }
}

/// The signing peers. Each returns whole messages (bob → alice) or bare entities.
struct Peers<'a> {
    fx: &'a Fixture,
    gnupg: std::path::PathBuf,
    nss: String,
    n: std::cell::Cell<usize>,
}

impl Peers<'_> {
    fn tmp(&self, ext: &str) -> String {
        self.n.set(self.n.get() + 1);
        self.fx.p(&format!("gw-{}.{ext}", self.n.get()))
    }

    fn openssl(&self, ent: &[u8], digest: &str, mode: Mode, signer: &str) -> Vec<u8> {
        let (input, out) = (self.tmp("in"), self.tmp("out"));
        std::fs::write(&input, ent).unwrap();
        let md = digest.to_ascii_lowercase();
        let (cert, key) = (
            self.fx.p(&format!("{signer}.pem")),
            self.fx.p(&format!("{signer}.key")),
        );
        let mut args = vec![
            "cms", "-sign", "-binary", "-md", &md, "-in", &input, "-out", &out, "-signer", &cert,
            "-inkey", &key,
        ];
        if mode == Mode::Opaque {
            // -stream: BER with indefinite lengths and a chunked content string.
            args.extend(["-nodetach", "-stream"]);
        }
        self.fx.openssl(&args);
        strip_message_fields(&std::fs::read(&out).unwrap())
    }

    fn gpgsm(&self, ent: &[u8], digest: &str, mode: Mode) -> Vec<u8> {
        let input = self.tmp("in");
        std::fs::write(&input, ent).unwrap();
        let op = if mode == Mode::Opaque {
            "--sign"
        } else {
            "--detach-sign"
        };
        let der = super::gpgsm(
            self.fx,
            &self.gnupg,
            &[
                "--pinentry-mode",
                "loopback",
                "--passphrase-fd",
                "0",
                "-u",
                "bob@example.org",
                "--digest-algo",
                digest,
                op,
                &input,
            ],
        );
        self.wrap(ent, &der, digest, mode)
    }

    fn nss(&self, ent: &[u8], digest: &str, mode: Mode) -> Vec<u8> {
        let (input, out) = (self.tmp("in"), self.tmp("der"));
        std::fs::write(&input, ent).unwrap();
        let mut args = vec![
            "-S", "-N", "bob", "-H", digest, "-G", "-P", "-i", &input, "-o", &out, "-d", &self.nss,
        ];
        if mode == Mode::Detached {
            args.push("-T");
        }
        run("cmsutil", &args, None, self.fx.dir.path());
        self.wrap(ent, &std::fs::read(&out).unwrap(), digest, mode)
    }

    fn python(&self, ent: &[u8], digest: &str, mode: Mode) -> Vec<u8> {
        let input = self.tmp("in");
        std::fs::write(&input, ent).unwrap();
        let detached = if mode == Mode::Detached {
            "pkcs7.PKCS7Options.DetachedSignature, "
        } else {
            ""
        };
        let d = self.fx.dir.path().display();
        let script = format!(
            r#"
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
cert = x509.load_pem_x509_certificate(open("{d}/bob.pem","rb").read())
key = serialization.load_pem_private_key(open("{d}/bob.key","rb").read(), None)
data = open("{input}","rb").read()
out = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(cert, key, hashes.{digest}()).sign(serialization.Encoding.DER, [{detached}pkcs7.PKCS7Options.Binary])
sys.stdout.buffer.write(out)
"#
        );
        let der = run("python3", &["-c", &script], None, self.fx.dir.path());
        self.wrap(ent, &der, digest, mode)
    }

    fn wrap(&self, ent: &[u8], der: &[u8], digest: &str, mode: Mode) -> Vec<u8> {
        match mode {
            Mode::Opaque => p7m_entity("signed-data", der),
            Mode::Detached => {
                let micalg = digest.to_ascii_lowercase().replace("sha", "sha-");
                signed_entity(ent, der, &micalg)
            }
        }
    }

    /// Bouncy Castle signs many jobs in one JVM run: (mode, digest, entity) → whole message.
    fn bouncy_castle(&self, jobs: &[(Mode, &str, Vec<u8>)]) -> Vec<Vec<u8>> {
        let cp: Vec<String> = BC_JARS
            .iter()
            .map(|j| format!("/usr/share/java/{j}"))
            .collect();
        let src = peers_dir().join("BcSign.java");
        let mut args: Vec<String> = vec![
            "-cp".into(),
            cp.join(":"),
            src.display().to_string(),
            self.fx.p("bob.pem"),
            self.fx.p("bob.key"),
        ];
        let mut outs = Vec::new();
        for (mode, digest, ent) in jobs {
            let (input, out) = (self.tmp("in"), self.tmp("eml"));
            std::fs::write(&input, ent).unwrap();
            let m = if *mode == Mode::Opaque {
                "opaque"
            } else {
                "detached"
            };
            args.push(format!("{m}:{digest}:bc:{input}:{out}"));
            outs.push(out);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run("java", &refs, None, self.fx.dir.path());
        outs.iter()
            .map(|o| strip_message_fields(&std::fs::read(o).unwrap()))
            .collect()
    }

    /// NSS encrypts an entity to alice (as Thunderbird does).
    fn nss_encrypt(&self, ent: &[u8]) -> Vec<u8> {
        let (input, out) = (self.tmp("in"), self.tmp("der"));
        std::fs::write(&input, ent).unwrap();
        run(
            "cmsutil",
            &[
                "-E",
                "-r",
                "alice@example.org",
                "-i",
                &input,
                "-o",
                &out,
                "-d",
                &self.nss,
            ],
            None,
            self.fx.dir.path(),
        );
        p7m_entity("enveloped-data", &std::fs::read(&out).unwrap())
    }

    /// gpgsm encrypts an entity to alice.
    fn gpgsm_encrypt(&self, ent: &[u8]) -> Vec<u8> {
        let input = self.tmp("in");
        std::fs::write(&input, ent).unwrap();
        let der = super::gpgsm(
            self.fx,
            &self.gnupg,
            &["-r", "alice@example.org", "--encrypt", &input],
        );
        p7m_entity("enveloped-data", &der)
    }

    /// OpenSSL encrypts an entity to alice.
    fn openssl_encrypt(&self, ent: &[u8]) -> Vec<u8> {
        let (input, out) = (self.tmp("in"), self.tmp("out"));
        std::fs::write(&input, ent).unwrap();
        self.fx.openssl(&[
            "cms",
            "-encrypt",
            "-aes256",
            "-binary",
            "-in",
            &input,
            "-out",
            &out,
            &self.fx.p("alice.pem"),
        ]);
        strip_message_fields(&std::fs::read(&out).unwrap())
    }
}

fn valid_expect(layers: usize, weak: bool) -> Expect {
    Expect {
        overall: "valid",
        layers: vec!["valid"; layers],
        encryption: "none",
        reader_verifies: true,
        contains: None,
        weak,
    }
}

fn invalid_expect(layers: Vec<&'static str>, encryption: &'static str) -> Expect {
    Expect {
        overall: "invalid",
        layers,
        encryption,
        reader_verifies: false,
        contains: None,
        weak: false,
    }
}

/// Adds a row: `msg` (an entity) becomes a message with the row's subject, and is changed
/// as `variant` says unless `tampered_already` (nested layouts change the inner layer before
/// they encrypt it).
fn add(
    rows: &mut Vec<Row>,
    peer: &'static str,
    layout: &str,
    variant: Variant,
    tampered_already: bool,
    msg: &[u8],
    expect: Expect,
) {
    let subject = format!("row-{}", rows.len() + 1);
    let msg = message(msg, &subject);
    let msg = if tampered_already {
        msg
    } else {
        tamper(&msg, variant)
    };
    rows.push(Row {
        peer,
        layout: layout.to_string(),
        variant,
        subject,
        msg,
        expect,
    })
}

const VARIANTS: [Variant; 3] = [Variant::Intact, Variant::Content, Variant::Attrs];

/// Every row: single layers from each peer, digest, mode and variant; then the nested layouts.
fn rows(p: &Peers) -> Vec<Row> {
    let mut rows = Vec::new();
    let single = |variant: Variant, digest: &str| match variant {
        Variant::Intact => valid_expect(1, digest == "SHA1"),
        _ => invalid_expect(vec!["invalid"], "none"),
    };
    // Single layers.
    let mut bc_jobs: Vec<(Mode, &str, Vec<u8>)> = Vec::new();
    let mut bc_layouts = Vec::new();
    for digest in DIGESTS {
        for mode in [Mode::Opaque, Mode::Detached] {
            let ent = entity(&format!("{digest} {mode:?}"));
            let kind = if mode == Mode::Opaque {
                "opaque"
            } else {
                "clear-signed"
            };
            let layout = format!("{kind} {digest}");
            let made: [(&'static str, Option<Vec<u8>>); 4] = [
                ("OpenSSL", Some(p.openssl(&ent, digest, mode, "bob"))),
                ("gpgsm", Some(p.gpgsm(&ent, digest, mode))),
                ("NSS cmsutil", Some(p.nss(&ent, digest, mode))),
                // Python `cryptography` refuses to sign with SHA-1.
                (
                    "Python cryptography",
                    (digest != "SHA1").then(|| p.python(&ent, digest, mode)),
                ),
            ];
            for (peer, msg) in made {
                let Some(msg) = msg else { continue };
                for v in VARIANTS {
                    add(&mut rows, peer, &layout, v, false, &msg, single(v, digest));
                }
            }
            bc_jobs.push((mode, digest, ent));
            bc_layouts.push((layout, digest));
        }
    }
    // Nested, part 1: opaque over clear-signed, two signers (carol signed first, bob again).
    let inner = p.openssl(
        &entity("forwarded and signed again"),
        "SHA256",
        Mode::Detached,
        "carol",
    );
    bc_jobs.push((Mode::Opaque, "SHA256", inner.clone()));
    let mut bc = p.bouncy_castle(&bc_jobs);
    let bc_over_clear = bc.pop().unwrap();
    for ((layout, digest), msg) in bc_layouts.iter().zip(bc) {
        for v in VARIANTS {
            add(
                &mut rows,
                "Bouncy Castle",
                layout,
                v,
                false,
                &msg,
                single(v, digest),
            );
        }
    }
    let two = |v: Variant| match v {
        Variant::Intact => valid_expect(2, false),
        // The inner text changed: both layers fail.
        Variant::Content => invalid_expect(vec!["invalid", "invalid"], "none"),
        // Only the outer signature's attributes changed.
        Variant::Attrs => invalid_expect(vec!["invalid", "valid"], "none"),
    };
    for (peer, msg) in [
        ("NSS cmsutil", p.nss(&inner, "SHA256", Mode::Opaque)),
        ("gpgsm", p.gpgsm(&inner, "SHA256", Mode::Opaque)),
        ("Bouncy Castle", bc_over_clear),
    ] {
        for v in VARIANTS {
            let layout = "opaque over clear-signed (2 signers)";
            add(&mut rows, peer, layout, v, false, &msg, two(v));
        }
    }
    // Nested, part 2: signed inside encrypted (the inner layer is changed before encryption).
    // The reader gets the decrypted, still signed entity.
    let decrypted = |v: Variant, clear: bool| match v {
        Variant::Intact => Expect {
            encryption: "decrypted",
            contains: clear.then_some(PHRASE),
            ..valid_expect(1, false)
        },
        _ => invalid_expect(vec!["invalid"], "decrypted"),
    };
    for v in VARIANTS {
        let signed = p.nss(
            &entity("opaque, then NSS-encrypted"),
            "SHA256",
            Mode::Opaque,
        );
        let enc = p.nss_encrypt(&tamper(&signed, v));
        add(
            &mut rows,
            "NSS cmsutil",
            "opaque inside enveloped",
            v,
            true,
            &enc,
            decrypted(v, false),
        );
        let signed = p.gpgsm(
            &entity("opaque, then gpgsm-encrypted"),
            "SHA256",
            Mode::Opaque,
        );
        let enc = p.gpgsm_encrypt(&tamper(&signed, v));
        add(
            &mut rows,
            "gpgsm",
            "opaque inside enveloped",
            v,
            true,
            &enc,
            decrypted(v, false),
        );
        let signed = p.nss(
            &entity("clear-signed, then NSS-encrypted"),
            "SHA256",
            Mode::Detached,
        );
        let enc = p.nss_encrypt(&tamper(&signed, v));
        let layout = "clear-signed then encrypted (Thunderbird)";
        add(
            &mut rows,
            "NSS cmsutil",
            layout,
            v,
            true,
            &enc,
            decrypted(v, true),
        );
    }
    // Nested, part 3: encrypted, then clear-signed. The reader gets the decrypted content; a
    // changed ciphertext is not decrypted (the signature over it failed).
    for v in VARIANTS {
        let enc = p.openssl_encrypt(&entity("encrypted, then signed"));
        for (peer, msg) in [
            ("NSS cmsutil", p.nss(&enc, "SHA256", Mode::Detached)),
            ("OpenSSL", p.openssl(&enc, "SHA256", Mode::Detached, "bob")),
        ] {
            let expect = match v {
                Variant::Intact => Expect {
                    encryption: "decrypted",
                    contains: Some(PHRASE),
                    reader_verifies: false,
                    ..valid_expect(1, false)
                },
                _ => invalid_expect(vec!["invalid"], "failed"),
            };
            add(
                &mut rows,
                peer,
                "encrypted then clear-signed",
                v,
                false,
                &msg,
                expect,
            );
        }
    }
    rows
}

/// The S/MIME entity the reader's client sees: the first part of Segl's proof/warning
/// wrapper, or the message itself.
fn reader_entity(m: &Stored) -> Vec<u8> {
    let eml = m.eml.clone();
    let (head, body) = split_head(&eml);
    let head_s = String::from_utf8_lossy(&head).into_owned();
    let unfolded = head_s.replace("\r\n ", " ").replace("\r\n\t", " ");
    let Some(ct) = unfolded
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("content-type:"))
    else {
        return eml;
    };
    if !ct.contains("multipart/mixed") {
        return eml;
    }
    let b = ct
        .split("boundary=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let delim = format!("--{b}\r\n");
    let start = find(&body, delim.as_bytes()).unwrap() + delim.len();
    let end = start + find(&body[start..], format!("\r\n--{b}").as_bytes()).unwrap();
    let mut out = b"From: bob@example.org\r\nMIME-Version: 1.0\r\n".to_vec();
    out.extend_from_slice(&body[start..end]);
    out
}

fn check(row: &Row, got: &Stored, fx: &Fixture) -> Result<String, String> {
    let e = &row.expect;
    let sig = header(got, "X-Segl-Signature").unwrap_or_default();
    let overall = sig.split(';').next().unwrap_or("").trim().to_string();
    let text = got.text();
    let layers: Vec<String> = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .replace("\r\n ", " ")
        .lines()
        .filter_map(|l| l.strip_prefix("X-Segl-Signature-Layer: "))
        .map(|l| l.split(';').next().unwrap_or("").trim().to_string())
        .collect();
    let enc = header(got, "X-Segl-Encryption").unwrap_or_default();
    if overall != e.overall || layers != e.layers || enc != e.encryption {
        return Err(format!(
            "got {overall} {layers:?} encryption={enc}, want {} {:?} encryption={} ({sig})",
            e.overall, e.layers, e.encryption
        ));
    }
    let subject = header(got, "Subject").unwrap_or_default();
    let mark = if e.overall == "valid" {
        "[signed]"
    } else {
        "[signed: INVALID]"
    };
    if !subject.contains(mark) {
        return Err(format!("subject {subject:?} lacks {mark}"));
    }
    if let Some(c) = e.contains {
        if !text.contains(c) {
            return Err(format!("delivered message lacks {c:?}"));
        }
    }
    if e.weak && !text.contains("weak") {
        return Err("SHA-1 signature not marked weak".into());
    }
    let mut note = sig.split(';').nth(1).unwrap_or("").trim().to_string();
    if e.reader_verifies {
        let f = fx.p(&format!("reader-{}.eml", row.subject));
        std::fs::write(&f, reader_entity(got)).unwrap();
        let out = fx.p(&format!("reader-{}.out", row.subject));
        try_run(
            "openssl",
            &[
                "cms",
                "-verify",
                "-in",
                &f,
                "-CAfile",
                &fx.p("ca.pem"),
                "-out",
                &out,
            ],
            None,
            fx.dir.path(),
        )
        .map_err(|err| format!("the reader's copy no longer verifies: {err}"))?;
        note.push_str(", reader's copy verifies (openssl)");
    }
    Ok(note)
}

pub fn gateway_matrix(fx: &Fixture, gnupg: std::path::PathBuf, nss: String) {
    let d = fx.path("gw");
    let inbound = Sink::start(&d.join("inbound"), &[]);
    let g = Gateway::start(
        &d.join("segl"),
        inbound.port,
        0,
        "[relay]\ntrusted_networks = []\n",
    );
    ok(g.ctl(&["trust", "import", &fx.p("ca.pem")]));
    fx.openssl(&[
        "pkcs12",
        "-export",
        "-in",
        &fx.p("alice.pem"),
        "-inkey",
        &fx.p("alice.key"),
        "-passout",
        "pass:test",
        "-out",
        &fx.p("alice.p12"),
    ]);
    fx.write("p12pass", b"test\n");
    ok(g.ctl(&[
        "key",
        "import",
        &fx.p("alice.p12"),
        "--password-file",
        &fx.p("p12pass"),
    ]));

    let peers = Peers {
        fx,
        gnupg,
        nss,
        n: std::cell::Cell::new(0),
    };
    let rows = rows(&peers);
    let files: Vec<String> = rows
        .iter()
        .map(|r| {
            let f = fx.p(&format!("{}.eml", r.subject));
            std::fs::write(&f, &r.msg).unwrap();
            f
        })
        .collect();
    python(&format!(
        r#"
import smtplib
s = smtplib.SMTP("127.0.0.1", {port})
for f in {files:?}:
    s.sendmail("bob@example.org", ["alice@example.org"], open(f, "rb").read())
s.quit()
"#,
        port = g.smtp_port
    ));
    let got = inbound.wait_for(rows.len(), 180);
    let mut md = String::from("# S/MIME signature layouts through the gateway\n\nGenerated by `cargo test --test smime_interop` (tests/interop_gateway/mod.rs); do not edit by hand.\nEach row is made at test time by the peer, sent over SMTP to Segl (inbound policy) and read at the sink: `X-Segl-Signature` (overall), `X-Segl-Signature-Layer` (each layer, outermost first), `X-Segl-Encryption`; for intact signatures the reader's copy is verified again with `openssl cms -verify`.\n\n| Peer | Layout | Variant | Expected | Result | Notes |\n|---|---|---|---|---|---|\n");
    let mut failed = Vec::new();
    for row in &rows {
        let result = match got
            .iter()
            .find(|m| header(m, "Subject").is_some_and(|s| s.ends_with(&row.subject)))
        {
            Some(m) => check(row, m, fx),
            None => Err("not delivered".into()),
        };
        let expected = format!(
            "{} {:?} {}",
            row.expect.overall, row.expect.layers, row.expect.encryption
        );
        let (res, note) = match &result {
            Ok(n) => ("✅ pass".to_string(), n.clone()),
            Err(e) => {
                failed.push(format!(
                    "{} / {} / {}: {e}",
                    row.peer,
                    row.layout,
                    row.variant.name()
                ));
                ("❌ FAIL".to_string(), e.replace('|', "/"))
            }
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {res} | {note} |\n",
            row.peer,
            row.layout,
            row.variant.name(),
            expected.replace('"', "")
        ));
    }
    // Certificates are harvested from every valid layer: carol signed only the inner layer of
    // the two-signer rows, under her own address (not bob's From).
    let partners = g.ctl_json(&["partner", "list", "--json"]);
    let harvested: Vec<String> = partners
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["source"] == "harvested" && !p["pending"].as_bool().unwrap_or(true))
        .flat_map(|p| p["addresses"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    for who in ["bob@example.org", "carol@example.org"] {
        if !harvested.iter().any(|a| a == who) {
            failed.push(format!("{who} not harvested: {partners}"));
        }
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/interop-gateway.md");
    std::fs::write(&path, md).unwrap();
    assert!(
        failed.is_empty(),
        "{} of {} rows failed: {failed:#?}",
        failed.len(),
        rows.len()
    );
}
