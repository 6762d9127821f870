//! The HTTP client of `segl ctl`: the admin API's address and token from the gateway's
//! configuration, one call per request, API errors as [`CtlError::Api`].

use std::time::Duration;

use serde_json::Value;

use super::CtlError;
use crate::config::Config;

/// A connection to the admin API of the gateway that `cfg` describes.
pub(super) struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    pub(super) fn new(cfg: &Config) -> Result<Client, CtlError> {
        let path = cfg.storage.data_dir.join("ctl.token");
        let token = std::fs::read_to_string(&path)
            .map_err(|e| CtlError::Token(path.clone(), e))?
            .trim()
            .to_string();
        let listen = cfg
            .admin
            .listen
            .replace("0.0.0.0", "127.0.0.1")
            .replace("[::]", "[::1]");
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build();
        let https = crate::admin::https::uses_https(cfg);
        let agent = if https {
            super::admin::pinned_agent(cfg, config)?
        } else {
            config.into()
        };
        let scheme = if https { "https" } else { "http" };
        Ok(Client {
            base: format!("{scheme}://{listen}/api/v1"),
            token,
            agent,
        })
    }

    /// One request; `body` is sent as JSON (POST and PUT). A non-2xx answer is its `error` text.
    pub(super) fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, CtlError> {
        let url = format!("{}{}", self.base, path);
        let auth = format!("Bearer {}", self.token);
        let herr = |e: ureq::Error| CtlError::Http(self.base.clone(), e.to_string());
        let mut resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call(),
            ("PUT", Some(b)) => self
                .agent
                .put(&url)
                .header("Authorization", &auth)
                .send_json(&b),
            (_, Some(b)) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(&b),
            (_, None) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_empty(),
        }
        .map_err(herr)?;
        let status = resp.status();
        let v: Value = resp.body_mut().read_json().unwrap_or(Value::Null);
        if status.is_success() {
            Ok(v)
        } else {
            let msg = v
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| status.to_string());
            Err(CtlError::Api(msg))
        }
    }
}
