//! Fixtures for the keystore tests, made by openssl at test time: the S/MIME fixture's CA and
//! users, p12 files (default and -legacy), an expired certificate, a domain certificate, a
//! certificate with a CRL distribution point and a CRL revoking it.
#![allow(dead_code)]

#[path = "../smime_common/mod.rs"]
pub mod smime_common;

pub use smime_common::Fixture;

const CA_CNF: &str = "[ca]
default_ca = CA_default
[CA_default]
dir = .
database = index.txt
new_certs_dir = newcerts
serial = ca.srl
crlnumber = crlnumber
default_md = sha256
default_crl_days = 30
policy = pol
unique_subject = no
[pol]
commonName = supplied
emailAddress = optional
";

pub fn fixture() -> Fixture {
    let f = Fixture::new();
    f.write("ca.cnf", CA_CNF.as_bytes());
    f.write("index.txt", b"");
    f.write("crlnumber", b"01\n");
    std::fs::create_dir_all(f.path("newcerts")).unwrap();
    f
}

/// `name.p12` (OpenSSL 3 default: PBES2/AES, SHA-256 MAC) from name.key + name.pem + ca.
pub fn p12(f: &Fixture, name: &str, out: &str, password: &str, extra: &[&str]) {
    let mut args = vec![
        "pkcs12",
        "-export",
        "-inkey",
        &*Box::leak(format!("{name}.key").into_boxed_str()),
        "-in",
        &*Box::leak(format!("{name}.pem").into_boxed_str()),
        "-certfile",
        "ca.pem",
        "-out",
        out,
        "-passout",
        &*Box::leak(format!("pass:{password}").into_boxed_str()),
    ];
    args.extend_from_slice(extra);
    f.openssl(&args);
}

/// A user certificate issued with `openssl ca` (explicit dates; optional CRL distribution point).
pub fn issue(
    f: &Fixture,
    name: &str,
    san: &str,
    ku: &str,
    dates: Option<(&str, &str)>,
    cdp: Option<&str>,
) {
    let subj = format!("/CN={name}");
    f.openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &format!("{name}.key"),
        "-out",
        &format!("{name}.csr"),
        "-subj",
        &subj,
    ]);
    let mut ext = format!(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,{ku}\nextendedKeyUsage=emailProtection\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName={san}\n"
    );
    if let Some(u) = cdp {
        ext.push_str(&format!("crlDistributionPoints=URI:{u}\n"));
    }
    f.write(&format!("{name}.ext"), ext.as_bytes());
    let mut args = vec![
        "ca".to_string(),
        "-config".into(),
        "ca.cnf".into(),
        "-batch".into(),
        "-notext".into(),
        "-keyfile".into(),
        "ca.key".into(),
        "-cert".into(),
        "ca.pem".into(),
        "-in".into(),
        format!("{name}.csr"),
        "-out".into(),
        format!("{name}.pem"),
        "-extfile".into(),
        format!("{name}.ext"),
    ];
    match dates {
        Some((s, e)) => args.extend(["-startdate".into(), s.into(), "-enddate".into(), e.into()]),
        None => args.extend(["-days".into(), "30".into()]),
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    f.openssl(&a);
}

/// Revokes `name` and writes `ca.crl` (DER).
pub fn revoke_and_crl(f: &Fixture, name: &str) {
    f.openssl(&[
        "ca",
        "-config",
        "ca.cnf",
        "-keyfile",
        "ca.key",
        "-cert",
        "ca.pem",
        "-revoke",
        &format!("{name}.pem"),
    ]);
    f.openssl(&[
        "ca",
        "-config",
        "ca.cnf",
        "-keyfile",
        "ca.key",
        "-cert",
        "ca.pem",
        "-gencrl",
        "-out",
        "ca.crl.pem",
    ]);
    f.openssl(&[
        "crl",
        "-in",
        "ca.crl.pem",
        "-outform",
        "DER",
        "-out",
        "ca.crl",
    ]);
}

/// The PKCS#8 DER of a PEM key file, and the base64 lines of its PEM body.
pub fn key_secrets(f: &Fixture, name: &str) -> (Vec<u8>, Vec<String>) {
    let der = f.openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        &format!("{name}.key"),
        "-outform",
        "DER",
    ]);
    let pem = String::from_utf8(f.read(&format!("{name}.key"))).unwrap();
    let lines = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 40)
        .map(str::to_string)
        .collect();
    (der, lines)
}

/// Fails when any file under `dir` contains `needle`.
pub fn assert_not_in_files(dir: &std::path::Path, needle: &[u8], what: &str) {
    for e in walk(dir) {
        let data = std::fs::read(&e).unwrap_or_default();
        assert!(
            !data.windows(needle.len()).any(|w| w == needle),
            "{what} found in clear in {}",
            e.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
