//! `segl ctl user import` end to end: users from a real OpenLDAP `slapd` (its own database,
//! loaded with `ldapadd`) and from a CSV file, each imported twice (the second time changes
//! nothing), with a dry run that shows what would change and changes nothing.

mod common;
#[path = "smime_common/mod.rs"]
mod smime_common;

use common::*;
#[path = "ldap_common/mod.rs"]
mod ldap_common;
use ldap_common::*;
#[path = "policy_common/mod.rs"]
mod policy_common;
use policy_common::*;

/// `user list --json` as name → addresses, sorted.
fn users(g: &Gateway) -> Vec<(String, Vec<String>)> {
    let mut v: Vec<(String, Vec<String>)> = g
        .ctl_json(&["user", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap().to_string(),
                u["addresses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    v.sort();
    v
}

fn actions(v: &serde_json::Value) -> Vec<(String, String)> {
    let mut a: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    a.sort();
    a
}

#[test]
fn users_from_ldap_and_csv_import_idempotently() {
    let d = tmp();
    let Some(slapd) = Slapd::start(&d.path().join("ldap")) else {
        eprintln!("SKIP: slapd/ldapadd not installed (apt-get install slapd ldap-utils)");
        return;
    };
    let mut ldif = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Company\ndc: partner\n\n"
    );
    for (uid, mails) in [
        ("anna", vec!["anna@example.org", "a.hansen@example.org"]),
        ("bo", vec!["bo@example.org"]),
    ] {
        ldif.push_str(&format!(
            "dn: uid={uid},{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n"
        ));
        for m in mails {
            ldif.push_str(&format!("mail: {m}\n"));
        }
        ldif.push('\n');
    }
    // No mail: not a user.
    ldif.push_str(&format!(
        "dn: uid=printer,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: printer\ncn: printer\nsn: printer\n\n"
    ));
    slapd.add(&ldif, d.path());
    let g = Gateway::start(&d.path().join("gw"), 0, 0, "");
    g.add_user("bo", "bo@old.example.org", "bo password");
    let url = format!("ldap://127.0.0.1:{}", slapd.port);
    let ldap = |extra: &[&str]| {
        let mut a = vec!["user", "import", "--ldap", &url, "--base", SUFFIX, "--json"];
        a.extend_from_slice(extra);
        g.ctl_json(&a)
    };

    // Dry run: shows the changes, makes none.
    let before = users(&g);
    let dry = ldap(&["--dry-run"]);
    assert_eq!(
        actions(&dry),
        vec![
            ("anna".into(), "add".into()),
            ("bo".into(), "update".into())
        ]
    );
    assert_eq!(users(&g), before);
    let text = ok(g.ctl(&[
        "user",
        "import",
        "--ldap",
        &url,
        "--base",
        SUFFIX,
        "--dry-run",
    ]));
    assert!(
        text.contains("would add") && text.contains("(was bo@old.example.org)"),
        "{text}"
    );

    let first = ldap(&[]);
    assert_eq!(actions(&first), actions(&dry));
    let want_ldap = vec![
        (
            "anna".to_string(),
            vec![
                "anna@example.org".to_string(),
                "a.hansen@example.org".to_string(),
            ],
        ),
        ("bo".to_string(), vec!["bo@example.org".to_string()]),
    ];
    assert_eq!(users(&g), want_ldap);
    let second = ldap(&[]);
    assert_eq!(
        actions(&second),
        vec![
            ("anna".into(), "unchanged".into()),
            ("bo".into(), "unchanged".into())
        ]
    );
    assert_eq!(users(&g), want_ldap);
    // A filter narrows the import.
    let only = ldap(&["--filter", "(uid=anna)"]);
    assert_eq!(actions(&only), vec![("anna".into(), "unchanged".into())]);

    // CSV: name,address[,hash], one address a line; twice.
    let csv = d.path().join("users.csv");
    std::fs::write(
        &csv,
        "name,address,password_hash\n# sales\ncarla,carla@example.org\ncarla,sales@example.org\ndirk,dirk@example.org\n",
    )
    .unwrap();
    let csv = csv.to_str().unwrap();
    let c1 = g.ctl_json(&["user", "import", "--csv", csv, "--json"]);
    assert_eq!(
        actions(&c1),
        vec![
            ("carla".into(), "add".into()),
            ("dirk".into(), "add".into())
        ]
    );
    let c2 = g.ctl_json(&["user", "import", "--csv", csv, "--json"]);
    assert_eq!(
        actions(&c2),
        vec![
            ("carla".into(), "unchanged".into()),
            ("dirk".into(), "unchanged".into())
        ]
    );
    let all = users(&g);
    assert_eq!(all.len(), 4);
    assert!(all.contains(&(
        "carla".into(),
        vec!["carla@example.org".into(), "sales@example.org".into()]
    )));
    // A broken file changes nothing and says where.
    let bad = d.path().join("bad.csv");
    std::fs::write(&bad, "erik,not-an-address\n").unwrap();
    let out = g.ctl(&["user", "import", "--csv", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(users(&g), all);
}
