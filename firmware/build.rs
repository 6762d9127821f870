//! Chooses the licence vendor public key the firmware embeds (docs/license.md).
//!
//! - `SEGL_LICENSE_PUBKEY=<file>` (PEM `PUBLIC KEY`, Ed25519, as `segl-license keygen` writes
//!   it): the production key.
//! - Without it: the development key (`firmware/src/license/dev-key.pub`), whose private half
//!   anyone can derive; the box then says "development build".
//! - `SEGL_RELEASE=1` (set by the Buildroot package, and by `image/build.sh` for a release)
//!   refuses to build without a production key, or with the development key given as one, so
//!   no shipped box accepts licences signed with the development key.
//!
//! The firmware-update key (`SEGL_UPDATE_PUBKEY`, development key
//! `firmware/src/update/dev-key.pub`) is chosen the same way, and is a separate key.

use std::path::Path;

#[path = "src/license/release_key.rs"]
mod release_key;

const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
const DEV_KEY: &str = "firmware/src/license/dev-key.pub";
const DEV_UPDATE_KEY: &str = "firmware/src/update/dev-key.pub";

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    println!("cargo:warning={msg}");
    std::process::exit(1);
}

/// The raw 32-byte Ed25519 key of a PEM `PUBLIC KEY` file.
fn read_key(path: &Path) -> [u8; 32] {
    use base64::Engine;
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    let b64: String = text
        .lines()
        .skip_while(|l| l.trim() != "-----BEGIN PUBLIC KEY-----")
        .skip(1)
        .take_while(|l| l.trim() != "-----END PUBLIC KEY-----")
        .map(str::trim)
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_else(|_| fail(&format!("{}: not a PEM PUBLIC KEY", path.display())));
    match der.strip_prefix(&SPKI_ED25519_PREFIX[..]) {
        Some(k) if k.len() == 32 => {
            let mut out = [0u8; 32];
            out.copy_from_slice(k);
            out
        }
        _ => fail(&format!("{}: not an Ed25519 public key", path.display())),
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=SEGL_LICENSE_PUBKEY");
    println!("cargo:rerun-if-env-changed=SEGL_RELEASE");
    println!("cargo:rerun-if-changed=firmware/build.rs");
    println!("cargo:rerun-if-changed=firmware/src/license/release_key.rs");
    let release = release_key::is_release(std::env::var("SEGL_RELEASE").ok().as_deref());
    let (key, dev) = chosen_key(&release_key::LICENCE, release, DEV_KEY);
    let out = std::env::var("OUT_DIR").unwrap_or_else(|_| fail("OUT_DIR not set"));
    let code = format!(
        "/// The vendor public key licences must be signed with.\npub const VENDOR_KEY: [u8; 32] = {key:?};\n\
         /// Whether that is the development key.\npub const DEVELOPMENT: bool = {};\n\
         /// The development public key (to name it when a production box meets a dev licence).\npub const DEV_KEY: [u8; 32] = {dev:?};\n",
        key == dev
    );
    std::fs::write(Path::new(&out).join("license_key.rs"), code)
        .unwrap_or_else(|e| fail(&format!("cannot write license_key.rs: {e}")));
    update_key(release, &out);
    build_date();
}

/// `SEGL_BUILD_UNIX`: the build's date (`SOURCE_DATE_EPOCH` for a reproducible build, else the
/// time this script ran). A box without a battery-backed clock trusts its clock only once it is
/// past this date or NTP has set it (`appliance::trust`).
fn build_date() {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    println!("cargo:rustc-env=SEGL_BUILD_UNIX={secs}");
}

/// (chosen key, development key) of `kind`: its production file from the environment, else
/// the development key at `dev_path` (refused on a release).
fn chosen_key(kind: &release_key::KeyKind, release: bool, dev_path: &str) -> ([u8; 32], [u8; 32]) {
    println!("cargo:rerun-if-changed={dev_path}");
    let dev = read_key(Path::new(dev_path));
    let production = std::env::var_os(kind.var)
        .filter(|v| !v.is_empty())
        .map(|p| {
            let p = Path::new(&p).to_path_buf();
            println!("cargo:rerun-if-changed={}", p.display());
            read_key(&p)
        });
    let key = release_key::choose(kind, release, production, dev).unwrap_or_else(|msg| fail(&msg));
    (key, dev)
}

/// The firmware-update public key (`SEGL_UPDATE_PUBKEY`), chosen like the licence key but
/// separately.
fn update_key(release: bool, out: &str) {
    println!("cargo:rerun-if-env-changed=SEGL_UPDATE_PUBKEY");
    let (key, dev) = chosen_key(&release_key::UPDATE, release, DEV_UPDATE_KEY);
    let code = format!(
        "/// The public key firmware update bundles must be signed with.\npub const UPDATE_KEY: [u8; 32] = {key:?};\n\
         /// Whether that is the development update key.\npub const DEVELOPMENT: bool = {};\n\
         /// The development update public key.\npub const DEV_KEY: [u8; 32] = {dev:?};\n",
        key == dev
    );
    std::fs::write(Path::new(out).join("update_key.rs"), code)
        .unwrap_or_else(|e| fail(&format!("cannot write update_key.rs: {e}")));
}
