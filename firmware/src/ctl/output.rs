//! Printing what the API answered: `--json` prints it as it is, otherwise one line per object.

use serde_json::Value;

/// The API's JSON, pretty-printed.
pub(super) fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

/// A unix time as `YYYY-MM-DD hh:mm:ssZ` (the number itself if out of range).
pub(super) fn when(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| ts.to_string())
}

/// The string field `k` of `v`, or `-`.
pub(super) fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("-")
}

/// `v` as JSON, or each element of a list (or `v` itself) printed with `each`.
pub(super) fn out(v: &Value, json: bool, each: impl Fn(&Value)) {
    if json {
        print_json(v);
    } else if let Some(a) = v.as_array() {
        if a.is_empty() {
            println!("(none)");
        }
        a.iter().for_each(each);
    } else {
        each(v);
    }
}
