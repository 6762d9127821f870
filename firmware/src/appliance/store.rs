//! Where the settings files live and how a change is applied.
//!
//! On a box (`/etc/segl` exists) the files are `/data/network.conf` and `/data/time.conf`,
//! read by root at boot. Applying a change needs root (addresses, routes, the clock), and segl
//! runs as user `segl`, so segl only writes the file (new file, fsync, rename, directory
//! fsync) and then drops an empty request file into `/run/segl-netd/requests/` (the only
//! directory there segl may write). The root helper `/sbin/segl-netd` notices it within a
//! second, removes it, reads and re-checks the settings file and applies it; it reports in
//! `/run/segl-netd/<network|time>.status`, a directory segl can read but not write. Root never
//! reads a file's content from the requests directory and never writes into it, so segl can
//! neither pass a command nor redirect a root write through a symlink.
//!
//! Outside a box (tests, `segl serve` on a workstation) the files go into the data dir and
//! nothing is applied: the answer says what a box would do.

use std::path::{Path, PathBuf};

use super::settings::{NetworkSettings, SettingsError, TimeSettings};
use crate::config::Config;

/// The root helper's directory on a box.
pub const NETD_DIR: &str = "/run/segl-netd";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Invalid(#[from] SettingsError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The two kinds of settings, named as the files and requests are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Network,
    Time,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Network => "network",
            Kind::Time => "time",
        }
    }
}

/// Paths of one box (or of a data dir outside one).
#[derive(Debug, Clone)]
pub struct Store {
    /// Where `network.conf` and `time.conf` live.
    pub dir: PathBuf,
    /// The root helper's directory; `None` outside a box.
    pub netd: Option<PathBuf>,
}

/// What a save did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Saved {
    /// The file written.
    pub file: String,
    /// True when the root helper was asked to apply it.
    pub apply_requested: bool,
    /// One sentence for people.
    pub message: String,
}

impl Store {
    /// The box's paths when `/etc/segl` exists (`/data`, `/run/segl-netd`), else the data
    /// dir of `cfg` and no helper.
    pub fn for_config(cfg: &Config) -> Store {
        if crate::startup::on_appliance() {
            let dir = cfg
                .storage
                .data_dir
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("/data"));
            Store {
                dir,
                netd: Some(PathBuf::from(NETD_DIR)),
            }
        } else {
            Store {
                dir: cfg.storage.data_dir.clone(),
                netd: None,
            }
        }
    }

    pub fn file(&self, kind: Kind) -> PathBuf {
        self.dir.join(format!("{}.conf", kind.name()))
    }

    fn read(&self, kind: Kind) -> Result<Option<String>, StoreError> {
        let path = self.file(kind);
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// The network settings in force (the factory DHCP when there is no file).
    pub fn network(&self) -> Result<NetworkSettings, StoreError> {
        Ok(match self.read(Kind::Network)? {
            Some(t) => NetworkSettings::parse(&t)?,
            None => NetworkSettings::default(),
        })
    }

    /// The time settings in force (the factory `pool.ntp.org`, UTC, when there is no file).
    pub fn time(&self) -> Result<TimeSettings, StoreError> {
        Ok(match self.read(Kind::Time)? {
            Some(t) => TimeSettings::parse(&t)?,
            None => TimeSettings::default(),
        })
    }

    pub fn save_network(&self, s: NetworkSettings) -> Result<(NetworkSettings, Saved), StoreError> {
        let s = s.validated()?;
        let saved = self.save(Kind::Network, &s.render())?;
        Ok((s, saved))
    }

    pub fn save_time(&self, s: TimeSettings) -> Result<(TimeSettings, Saved), StoreError> {
        let s = s.validated()?;
        let saved = self.save(Kind::Time, &s.render())?;
        Ok((s, saved))
    }

    fn save(&self, kind: Kind, text: &str) -> Result<Saved, StoreError> {
        let path = self.file(kind);
        let tmp = path.with_extension("conf.tmp");
        crate::durable::write_synced(&tmp, text.as_bytes()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        crate::durable::sync_dir(&self.dir).map_err(io(&self.dir))?;
        tracing::info!(file = %path.display(), "{} settings saved", kind.name());
        let file = path.display().to_string();
        let Some(netd) = &self.netd else {
            return Ok(Saved {
                file,
                apply_requested: false,
                message: format!(
                    "saved; not on a box, so nothing is applied (a box applies {} settings at once)",
                    kind.name()
                ),
            });
        };
        let req = netd.join("requests").join(kind.name());
        crate::durable::write_synced(&req, b"").map_err(io(&req))?;
        Ok(Saved {
            file,
            apply_requested: true,
            message: format!("saved; the box applies the {} settings now", kind.name()),
        })
    }

    /// The root helper's last report on `kind` (`ok …` or `error …`), if any.
    pub fn status(&self, kind: Kind) -> Option<String> {
        let netd = self.netd.as_ref()?;
        std::fs::read_to_string(netd.join(format!("{}.status", kind.name())))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// The root helper's marker of a successful NTP synchronisation since boot.
    pub fn ntp_synced(&self) -> Option<String> {
        let netd = self.netd.as_ref()?;
        std::fs::read_to_string(netd.join("ntp-synced"))
            .ok()
            .map(|s| s.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appliance::settings::Mode;

    #[test]
    fn saves_and_requests_apply_on_a_box() {
        let dir = tempfile::tempdir().unwrap();
        let netd = dir.path().join("netd");
        std::fs::create_dir_all(netd.join("requests")).unwrap();
        let store = Store {
            dir: dir.path().to_path_buf(),
            netd: Some(netd.clone()),
        };
        assert_eq!(store.network().unwrap().mode, Mode::Dhcp);
        let (_, saved) = store
            .save_network(NetworkSettings {
                mode: Mode::Static,
                address: "192.0.2.10/24".into(),
                gateway: "192.0.2.1".into(),
                ..Default::default()
            })
            .unwrap();
        assert!(saved.apply_requested);
        assert!(netd.join("requests/network").exists());
        assert_eq!(store.network().unwrap().address, "192.0.2.10/24");
        std::fs::write(netd.join("network.status"), "ok static 192.0.2.10/24\n").unwrap();
        assert_eq!(
            store.status(Kind::Network).as_deref(),
            Some("ok static 192.0.2.10/24")
        );
        // Nothing invalid is written.
        let before = std::fs::read_to_string(store.file(Kind::Network)).unwrap();
        assert!(store
            .save_network(NetworkSettings {
                mode: Mode::Static,
                address: "192.0.2.10/24".into(),
                gateway: "10.0.0.1".into(),
                ..Default::default()
            })
            .is_err());
        assert_eq!(
            std::fs::read_to_string(store.file(Kind::Network)).unwrap(),
            before
        );
    }
}
