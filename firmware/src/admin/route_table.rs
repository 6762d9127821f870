//! The list of `/api/v1` routes as the router holds them, so that a test can check that every
//! endpoint is in the OpenAPI document (a route added without a `#[utoipa::path]` fails it).
//! axum has no public route listing; its `Debug` output names every path and which methods
//! each path has, and that is read here. If a future axum changes that output, the parse
//! finds no routes and the test fails loudly rather than passing silently.

use std::collections::BTreeMap;

/// The methods whose endpoints the table reports (HEAD comes with GET, others are unused).
const METHODS: [&str; 5] = ["get", "delete", "patch", "post", "put"];

/// `(method, path)` of every route under `/api/v1`, the path with the `/api/v1` prefix and
/// the method in lower case (as OpenAPI names them). A route mounted as a whole service
/// (no method router) is reported with method `"*"`.
pub fn api_route_table() -> Vec<(String, String)> {
    parse(&format!("{:?}", super::router::api_routes()))
}

/// Pairs each `RouteId(n): MethodRouter(..)` of the `routes` map with the `RouteId(n): "/path"`
/// of the `node` map.
fn parse(debug: &str) -> Vec<(String, String)> {
    let Some((routes, node)) = debug.split_once("node: Node { paths: {") else {
        return vec![];
    };
    // Read the entries one after another: the fallback router's map follows this one, and its
    // ids would clash with these.
    let mut paths = BTreeMap::new();
    let mut rest = node;
    while let Some(entry) = rest.strip_prefix("RouteId(") {
        let Some((id, tail)) = entry.split_once("): \"") else {
            break;
        };
        let Some((path, tail)) = tail.split_once('"') else {
            break;
        };
        paths.insert(id.to_string(), path.to_string());
        match tail.strip_prefix(", ") {
            Some(next) => rest = next,
            None => break,
        }
    }
    let mut out = vec![];
    for part in routes.split("RouteId(").skip(1) {
        let Some((id, endpoint)) = part.split_once("): ") else {
            continue;
        };
        let Some(path) = paths.get(id) else {
            continue;
        };
        let full = format!("/api/v1{path}");
        if !endpoint.starts_with("MethodRouter(") {
            out.push(("*".to_string(), full));
            continue;
        }
        for m in METHODS {
            let set = [format!("{{ {m}: "), format!(", {m}: ")].iter().any(|f| {
                endpoint
                    .split_once(f.as_str())
                    .is_some_and(|(_, v)| !v.starts_with("None"))
            });
            if set {
                out.push((m.to_string(), full.clone()));
            }
        }
    }
    out.sort();
    out
}
