//! Editing the configuration file by key path (`mark.encrypted`), and which keys only take
//! effect at the next start.
//!
//! The file holds only what the administrator changed (keys left out keep their embedded
//! default), so a change sets keys in the file's own table, never the merged configuration.

/// Keys (and whole sections, ending in `.`) the running gateway reads only at start: listeners,
/// the data directory, TLS material, pools sized at start, the keystore and the log.
pub const RESTART_KEYS: &[&str] = &[
    "smtp.listen",
    "smtp.submission_listen",
    "smtp.tls.",
    "smtp.max_connections",
    "storage.data_dir",
    "storage.spool_layout",
    "admin.listen",
    "admin.tls_cert",
    "admin.tls_key",
    "log.",
    // The keystore takes these when it opens (`KeystoreSettings`); `keystore.auto_issue*` are
    // read by the policy per message and apply at once.
    "keystore.rollover_days",
    "keystore.keep_old_days",
    "keystore.passphrase_file",
    "keystore.crl_refresh_hours",
    "keystore.cert_days",
    "keystore.ca_days",
    "keystore.ca_name",
    "delivery.max_concurrency",
    "delivery.retry_initial_secs",
    "delivery.retry_max_secs",
    "delivery.max_queue_lifetime_secs",
    // The portal's listener and web state are made at start (its policy hook reads
    // portal.enabled and portal.exclude live).
    "portal.listen",
    "portal.tls_cert",
    "portal.tls_key",
    "portal.public_url",
    "portal.require_code",
    "portal.retention_days",
];

/// Whether a change of `key` applies only at the next start.
pub fn needs_restart(key: &str) -> bool {
    RESTART_KEYS.iter().any(|k| match k.strip_suffix('.') {
        Some(section) => key == section || key.starts_with(k),
        None => key == *k,
    })
}

/// The leaf keys (`a.b.c`) whose values differ between two configurations (as JSON).
pub fn changed_keys(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    let mut out = vec![];
    walk("", old, new, &mut out);
    out
}

fn walk(prefix: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(x), Object(y)) if !prefix.starts_with("mailboxes") => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                let null = serde_json::Value::Null;
                walk(
                    &p,
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        _ if a != b => out.push(prefix.to_string()),
        _ => {}
    }
}

/// Set `key` (dotted path) to `value` in the file's document, creating tables on the way;
/// `None` removes the key, so it falls back to its default. Comments, order and layout of
/// everything else in the file stay as the administrator wrote them.
pub fn set_key(
    doc: &mut toml_edit::DocumentMut,
    key: &str,
    value: Option<toml::Value>,
) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("{key}: not a key path"));
    }
    let (last, path) = parts
        .split_last()
        .ok_or_else(|| format!("{key}: not a key path"))?;
    let mut t: &mut dyn toml_edit::TableLike = doc.as_table_mut();
    for p in path {
        if t.get(p).is_none() {
            if value.is_none() {
                return Ok(());
            }
            t.insert(p, toml_edit::table());
        }
        t = t
            .get_mut(p)
            .and_then(toml_edit::Item::as_table_like_mut)
            .ok_or_else(|| format!("{key}: {p} is not a section"))?;
    }
    match value {
        Some(v) => {
            let item = to_item(v)?;
            match t.get_mut(last) {
                // Keep the comment before and after an existing value.
                Some(toml_edit::Item::Value(old)) if item.is_value() => {
                    let decor = old.decor().clone();
                    if let toml_edit::Item::Value(mut new) = item {
                        *new.decor_mut() = decor;
                        *old = new;
                    }
                }
                _ => {
                    t.insert(last, item);
                }
            }
        }
        None => {
            t.remove(last);
        }
    }
    Ok(())
}

/// A TOML value as an item of a document: a table becomes a `[section]`, the rest a value.
fn to_item(v: toml::Value) -> Result<toml_edit::Item, String> {
    match v {
        toml::Value::Table(t) => {
            let text = toml::to_string(&t).map_err(|e| e.to_string())?;
            let doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
            Ok(toml_edit::Item::Table(doc.as_table().clone()))
        }
        v => v
            .to_string()
            .parse::<toml_edit::Value>()
            .map(toml_edit::Item::Value)
            .map_err(|e| format!("{e}")),
    }
}

/// A JSON value (from the API) as TOML; `null` means "back to the default".
pub fn json_to_toml(v: &serde_json::Value) -> Result<Option<toml::Value>, String> {
    use serde_json::Value as J;
    Ok(Some(match v {
        J::Null => return Ok(None),
        J::Bool(b) => toml::Value::Boolean(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => toml::Value::Integer(i),
            (None, Some(f)) => toml::Value::Float(f),
            _ => return Err(format!("number out of range: {n}")),
        },
        J::String(s) => toml::Value::String(s.clone()),
        J::Array(a) => toml::Value::Array(
            a.iter()
                .map(|x| json_to_toml(x)?.ok_or_else(|| "null inside a list".to_string()))
                .collect::<Result<_, _>>()?,
        ),
        J::Object(o) => {
            let mut t = toml::Table::new();
            for (k, x) in o {
                if let Some(x) = json_to_toml(x)? {
                    t.insert(k.clone(), x);
                }
            }
            toml::Value::Table(t)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_keys_match_whole_names_and_sections() {
        assert!(needs_restart("smtp.listen"));
        assert!(needs_restart("smtp.max_connections"));
        assert!(!needs_restart("smtp.max_connections_per_ip"));
        assert!(needs_restart("admin.listen"));
        assert!(needs_restart("smtp.tls.cert"));
        assert!(!needs_restart("mark.encrypted"));
        assert!(!needs_restart("administrator"));
    }

    #[test]
    fn set_key_creates_sections_and_removes() {
        let mut t = toml_edit::DocumentMut::new();
        set_key(&mut t, "mark.encrypted", Some("[x]".into())).unwrap();
        assert_eq!(t["mark"]["encrypted"].as_str(), Some("[x]"));
        set_key(&mut t, "mark.encrypted", None).unwrap();
        assert!(t["mark"].as_table().unwrap().is_empty());
        set_key(&mut t, "mark.encrypted", Some(1.into())).unwrap();
        assert!(set_key(&mut t, "mark.encrypted.x", Some(1.into())).is_err());
        assert!(set_key(&mut t, "a..b", Some(1.into())).is_err());
        // Removing a key of a section that is not there changes nothing.
        set_key(&mut t, "notify.x", None).unwrap();
        assert!(t.get("notify").is_none());
    }

    #[test]
    fn set_key_keeps_comments_and_layout() {
        let text = "# Our gateway\n[smtp]\n# the name we greet with\nhostname = \"a.example\" # old\n\n[mark]\nsigned = \"[s]\"\n";
        let mut d: toml_edit::DocumentMut = text.parse().unwrap();
        set_key(&mut d, "smtp.hostname", Some("b.example".into())).unwrap();
        set_key(
            &mut d,
            "delivery.tls_levels",
            Some(toml::Value::Table(
                toml::from_str("\"partner.example\" = \"verify\"").unwrap(),
            )),
        )
        .unwrap();
        set_key(
            &mut d,
            "relay.trusted_networks",
            Some(toml::Value::Array(vec!["10.0.0.0/8".into()])),
        )
        .unwrap();
        let out = d.to_string();
        assert!(
            out.starts_with(
                "# Our gateway\n[smtp]\n# the name we greet with\nhostname = \"b.example\" # old\n"
            ),
            "{out}"
        );
        assert!(out.contains("[mark]\nsigned = \"[s]\""), "{out}");
        let back: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(
            back["delivery"]["tls_levels"]["partner.example"].as_str(),
            Some("verify")
        );
        assert_eq!(
            back["relay"]["trusted_networks"][0].as_str(),
            Some("10.0.0.0/8")
        );
    }

    #[test]
    fn changed_keys_are_leaves() {
        let a = serde_json::json!({"mark": {"signed": "a", "invalid": "b"}, "x": [1]});
        let b = serde_json::json!({"mark": {"signed": "c", "invalid": "b"}, "x": [1, 2]});
        assert_eq!(changed_keys(&a, &b), vec!["mark.signed", "x"]);
    }
}
