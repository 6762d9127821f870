//! Loading: the file's keys laid over the embedded default, then validated; files the
//! configuration names are read at load time.

use std::path::Path;

use super::{Config, ConfigError, DEFAULT_TOML};

impl Config {
    /// The embedded default configuration.
    pub fn default_config() -> Config {
        match Config::parse("", "embedded default") {
            Ok(c) => c,
            // The embedded file is checked by a unit test; a built binary cannot reach this.
            Err(e) => panic!("embedded default configuration is invalid: {e}"),
        }
    }

    /// Read and validate a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_file_text(&text, path)
    }

    /// Validate `text` as the content of the file at `path` (relative paths in it are
    /// relative to that file's folder): what [`Config::load`] does after reading, and what a
    /// change through the admin API checks before it writes the file.
    pub fn from_file_text(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut cfg = Config::parse(text, &path.display().to_string())?;
        // A relative data_dir is relative to the config file, so `--config` works from anywhere.
        let base = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(parent) = base {
            if cfg.storage.data_dir.is_relative() {
                // Collecting the components drops `.` ones: `data_dir = "."` in a file inside
                // the data directory names that directory itself, not `<dir>/.`.
                cfg.storage.data_dir = parent.join(&cfg.storage.data_dir).components().collect();
            }
        }
        cfg.load_files(base.unwrap_or(Path::new(".")), &path.display().to_string())?;
        Ok(cfg)
    }

    /// Parse and validate configuration text; `origin` names it in error messages.
    /// Keys the text leaves out keep their embedded default.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let perr = |message: String| ConfigError::Parse {
            path: origin.to_string(),
            message,
        };
        let mut base: toml::Table =
            toml::from_str(DEFAULT_TOML).map_err(|e| perr(format!("embedded default: {e}")))?;
        let over: toml::Table = toml::from_str(text).map_err(|e| perr(e.to_string()))?;
        merge(&mut base, over);
        let cfg: Config = toml::Value::Table(base)
            .try_into()
            .map_err(|e: toml::de::Error| perr(e.to_string()))?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// Reads the files the configuration names (relative to `base`, the config file's folder):
    /// the Digital Post sender certificates; resolves the LDAP bind password file's path (the
    /// password itself is read by the directory client and never kept in the configuration).
    /// A file that cannot be read or parsed is an error of the configuration, reported at load
    /// (`segl config check`), not at the first mail.
    pub fn load_files(&mut self, base: &Path, origin: &str) -> Result<(), ConfigError> {
        let mt = self.admin.metrics_token_file.trim();
        if !mt.is_empty() && Path::new(mt).is_relative() {
            self.admin.metrics_token_file = base.join(mt).to_string_lossy().into_owned();
        }
        let pw = self.lookup.bind_password_file.trim();
        if !pw.is_empty() && Path::new(pw).is_relative() {
            self.lookup.bind_password_file = base.join(pw).to_string_lossy().into_owned();
        }
        self.digital_post.sender_fingerprints =
            self.digital_post
                .read_fingerprints(base)
                .map_err(|message| ConfigError::Invalid {
                    path: origin.to_string(),
                    key: "digital_post.sender_certificates",
                    message,
                })?;
        Ok(())
    }
}

/// Overlay `over` onto `base`: tables merge key by key, everything else (arrays too) replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}
