//! Fuzzes the policy stage with arbitrary messages, inbound (from the internet to a local
//! recipient) and outbound (from a trusted relay to a partner): header editing, RFC 2047
//! subjects, tags and codes, MIME walking, decryption/verification attempts. Any panic or hang
//! is a bug; a `ProcessError` is an expected answer.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use segl::config::Config;
use segl::keystore::{Keystore, Settings};
use segl::policy::{self, PolicyCtx};
use segl::spool::{ClientInfo, Envelope, Listener, Recipient, Stage};

fn ctx() -> &'static PolicyCtx {
    static CTX: OnceLock<PolicyCtx> = OnceLock::new();
    CTX.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("segl-fuzz-policy-{}", std::process::id()));
        let cfg = Config::parse(
            "[sign]\ntrusted_relays = [\"127.0.0.1/32\"]\nkeys_without_auth = [\"@example.org\"]\n[mailboxes.jura]\naddress = \"jura@example.org\"\nsenders = [\"@example.org\"]\n",
            "fuzz",
        )
        .expect("fuzz config");
        let keystore = Keystore::open(&dir, Settings::default()).expect("keystore");
        let license = segl::license::Licensing::open(keystore.clone(), &dir).expect("licensing");
        PolicyCtx {
            cfg: Arc::new(cfg),
            keystore,
            directory: None,
            license,
            users: None,
        }
    })
}

fn envelope(trusted: bool, rcpt: &str) -> Envelope {
    Envelope {
        version: 1,
        id: "FUZZ".into(),
        parent: None,
        stage: Stage::Process,
        arrived: 0,
        client: ClientInfo {
            ip: Some([127, 0, 0, 1].into()),
            port: 1,
            helo: "fuzz".into(),
            listener: Listener::Mx,
            tls: None,
            auth_user: None,
            auth_addresses: vec![],
            trusted_network: trusted,
        },
        mail_from: "a@example.org".into(),
        body: None,
        smtputf8: false,
        ret: None,
        envid: None,
        size: 0,
        recipients: vec![Recipient::new(rcpt.into(), None, None)],
        paused: None,
        checksum: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let ctx = ctx();
    let _ = policy::process(ctx, &envelope(false, "alice@example.org"), data);
    let _ = policy::process(ctx, &envelope(true, "bob@partner.test"), data);
});
