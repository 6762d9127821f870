//! Wiring of the stages: data dir, spool, the queue with its process stage (the policy) and
//! transport (the SMTP client), SMTP listeners, admin API; start and shutdown.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{self, AdminState};
use crate::appliance::trust::BoxClock;
use crate::config::{parse_listen, Config};
use crate::keystore::{Keystore, Settings as KeystoreSettings};
use crate::liveconf::{ConfigService, Live};
use crate::policy::PolicyCtx;
use crate::queue::{Queue, Stages};
use crate::smtp::inbound::{self, Server};
use crate::smtp::outbound::deliver::Deliverer;
use crate::smtp::outbound::route::Resolver;
use crate::spool::{Listener, Spool};
use crate::users::UserStore;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Startup(#[from] crate::startup::StartupError),
    #[error("cannot listen on {0}: {1}")]
    Listen(String, std::io::Error),
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
    #[error(transparent)]
    Users(#[from] crate::users::UserError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
    #[error("keystore: {0}")]
    Keystore(#[from] crate::keystore::KeystoreError),
    #[error("invalid address: {0}")]
    Address(String),
    #[error("licence: {0}")]
    License(#[from] crate::license::LicenseError),
    #[error("certificate lookup: {0}")]
    Directory(#[from] crate::keystore::ldap::DirectoryError),
    #[error(transparent)]
    Portal(#[from] crate::portal::serve::PortalStartError),
}

/// Run the gateway until SIGINT/SIGTERM. `config_path` is the live configuration file
/// (`--config`; `None`: `<data_dir>/segl.toml`, written at the first change).
pub async fn serve(cfg: Config, config_path: Option<PathBuf>) -> Result<(), StartError> {
    let cfg = Arc::new(cfg);
    let data = &cfg.storage.data_dir;
    let token = prepare_data_dir(data)?;
    let spool = Arc::new(Spool::open(data)?);
    let spool_on_trial = choose_spool_layout(&cfg, &spool);
    let users = Arc::new(UserStore::open(data)?);
    let keystore = Keystore::open(data, KeystoreSettings::from_config(&cfg))?;
    let tls = crate::tls::server_config(&cfg)?;
    let config = ConfigService::new(cfg.clone(), config_path);
    let transport = Live::new(Arc::new(Deliverer {
        cfg: cfg.clone(),
        resolver: Resolver::new(&cfg),
        tls: crate::tls::client_tls(&cfg)?,
        cache: crate::smtp::outbound::cache::ConnectionCache::new(),
    }));
    let license = crate::license::Licensing::open(keystore.clone(), data)?;
    let policy = Live::new(Arc::new(PolicyCtx {
        cfg: cfg.clone(),
        keystore: keystore.clone(),
        directory: crate::keystore::ldap::Directory::new(&cfg.lookup)?,
        license: license.clone(),
        users: Some(users.clone()),
    }));
    crate::liveconf::rebuild_on_change(&config, &policy, &transport);
    let stages = Stages {
        process: policy.clone(),
        transport,
        clock: Arc::new(BoxClock),
    };
    let queue = Queue::new(cfg.clone(), spool.clone(), stages);
    let resumed = queue.load()?;
    let (stop_tx, stop_rx) = watch::channel(false);

    // Bind everything before reporting ready, so a port conflict is an error at start.
    let listeners = bind_smtp(&cfg).await?;
    let admin_addr = parse_listen(&cfg.admin.listen).map_err(StartError::Address)?;
    let admin_listener = TcpListener::bind(admin_addr)
        .await
        .map_err(|e| StartError::Listen(cfg.admin.listen.clone(), e))?;

    let server = Server::new(
        config.live(),
        Some(tls),
        spool.clone(),
        queue.clone(),
        users.clone(),
        stop_rx.clone(),
    );
    let mut tasks = vec![];
    for (l, kind, a) in listeners {
        tracing::info!(listen = %a, listener = ?kind, "SMTP listening");
        tasks.push(tokio::spawn(inbound::serve(server.clone(), l, kind)));
    }
    let monitor = crate::monitor::install(crate::monitor::Monitor::open(
        data,
        &cfg.relay.local_domains,
    ));
    let https = admin::https::uses_https(&cfg);
    let auth = admin::auth::AuthState::open(data, https, monitor.clone())
        .map_err(|e| StartError::DataDir(data.display().to_string(), std::io::Error::other(e)))?;
    let state = Arc::new(AdminState {
        cfg: cfg.clone(),
        queue: queue.clone(),
        users,
        keystore: keystore.clone(),
        license: license.clone(),
        policy: policy.clone(),
        token,
        started: Instant::now(),
        auth: Arc::new(auth),
        config,
    });
    announce_admin(&cfg, &state, https);
    tasks.push(tokio::spawn(admin::serve(
        state,
        admin_listener,
        https
            .then(|| admin::https::server_config(&cfg))
            .transpose()?,
        stop_rx.clone(),
    )));
    tasks.extend(crate::portal::serve::start(&cfg, &queue, &stop_rx).await?);
    tasks.push(tokio::spawn(save_counters(monitor, stop_rx.clone())));
    tasks.push(tokio::spawn(queue.clone().run(stop_rx.clone())));
    tasks.push(tokio::spawn(crate::policy::license_tasks::run(
        queue.clone(),
        policy.clone(),
        stop_rx.clone(),
    )));
    tasks.push(tokio::spawn(keystore_tasks(
        keystore.clone(),
        cfg.keystore.crl_refresh_hours,
        stop_rx.clone(),
    )));
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        data_dir = %data.display(),
        resumed,
        "segl ready"
    );
    // A/B firmware: mark a trial slot good once healthy, or record a failed trial (update/).
    let fw_cfg = cfg.clone();
    tokio::task::spawn_blocking(move || {
        let updater = crate::update::Updater::global();
        crate::update::confirm::after_start(updater, &fw_cfg, &firmware_admin_health)
    });
    if spool_on_trial {
        tokio::spawn(follow_trial(cfg.clone(), spool.clone()));
    }

    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    // Sessions in DATA finish or time out; nothing accepted is lost either way, because only
    // committed messages were acknowledged.
    let grace = std::time::Duration::from_secs(5);
    for t in tasks {
        let _ = tokio::time::timeout(grace, t).await;
    }
    Ok(())
}

/// The layout new spool files are written in: one file per message, except when the
/// administrator asked for the old layout or the firmware slot is on trial (a fallback to the
/// firmware before must find a spool it can read). Returns whether the slot is on trial.
fn choose_spool_layout(cfg: &Config, spool: &Spool) -> bool {
    let on_trial = crate::update::Updater::global().on_trial();
    let one_file = cfg.storage.spool_layout == crate::config::SpoolLayout::Auto && !on_trial;
    let was = spool.new_layout() == crate::spool::Layout::OneFile;
    spool.set_one_file(one_file);
    if one_file != was {
        tracing::info!(on_trial, one_file, "spool: layout for new messages changed");
    }
    on_trial
}

/// Once a trial slot is marked good (by `update::confirm`, or `S95segl-mark-good` on a RAUC
/// board), new messages go to the one-file layout: checked every 5 s while on trial (started
/// only when the slot was on trial at start).
async fn follow_trial(cfg: Arc<Config>, spool: Arc<Spool>) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        if !choose_spool_layout(&cfg, &spool) {
            return;
        }
    }
}

/// Creates the data directory (mode 0700) if needed, checks that it is writable, and returns the
/// local API token (made at the first start).
fn prepare_data_dir(data: &std::path::Path) -> Result<String, StartError> {
    std::fs::create_dir_all(data)
        .map_err(|e| StartError::DataDir(data.display().to_string(), e))?;
    crate::startup::check_writable(data)?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700));
    }
    let token = admin::ensure_token(data)
        .map_err(|e| StartError::DataDir(data.display().to_string(), e))?;
    crate::update::Updater::global().set_data_dir(data);
    Ok(token)
}

/// Binds every SMTP listener (`smtp.listen`, `smtp.submission_listen`).
async fn bind_smtp(cfg: &Config) -> Result<Vec<(TcpListener, Listener, String)>, StartError> {
    let mut listeners = vec![];
    for (addrs, kind) in [
        (&cfg.smtp.listen, Listener::Mx),
        (&cfg.smtp.submission_listen, Listener::Submission),
    ] {
        for a in addrs {
            let sa = parse_listen(a).map_err(StartError::Address)?;
            let l = TcpListener::bind(sa)
                .await
                .map_err(|e| StartError::Listen(a.clone(), e))?;
            listeners.push((l, kind, a.clone()));
        }
    }
    Ok(listeners)
}

/// Logs the web admin's URL and, while no admin exists, writes the one-time set-up link
/// where the console shows it.
fn announce_admin(cfg: &Config, state: &AdminState, https: bool) {
    let scheme = if https { "https" } else { "http" };
    let base_url = format!(
        "{scheme}://{}",
        cfg.admin.listen.replace("0.0.0.0", "<address of this box>")
    );
    if let Some(token) = state.auth.new_setup_token() {
        admin::auth::announce_setup(&cfg.storage.data_dir, &base_url, &token);
    }
    tracing::info!(listen = %cfg.admin.listen, url = %base_url, "web admin and API listening");
}

/// Keystore housekeeping: the rollover check at start and hourly, and the CRL refresh every
/// `crl_hours` (0: never). Both block (key generation, HTTP), so they run on the blocking pool;
/// the per-message path never waits for them.
async fn keystore_tasks(ks: Arc<Keystore>, crl_hours: u32, mut stop: watch::Receiver<bool>) {
    let hour = std::time::Duration::from_secs(3600);
    let mut rollover = tokio::time::interval(hour);
    let crl_period = hour * crl_hours.max(1);
    let mut crl = tokio::time::interval(crl_period);
    loop {
        tokio::select! {
            _ = rollover.tick() => {
                let ks = ks.clone();
                match tokio::task::spawn_blocking(move || ks.rollover_check()).await {
                    Ok(Ok(actions)) if !actions.is_empty() => {
                        tracing::info!(?actions, "key rollover check");
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "key rollover check failed"),
                    _ => {}
                }
            }
            _ = crl.tick(), if crl_hours > 0 => {
                let ks = ks.clone();
                if let Ok((n, errors)) = tokio::task::spawn_blocking(move || ks.refresh_crls()).await {
                    tracing::debug!(stored = n, failed = errors.len(), "CRL refresh");
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// Save the dashboard counters each minute and at shutdown.
async fn save_counters(m: Arc<crate::monitor::Monitor>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => {
                m.counters.save();
                return;
            }
        }
        let m = m.clone();
        let _ = tokio::task::spawn_blocking(move || m.counters.save()).await;
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The admin listener answers `/health` with `ok` (through HTTPS pinned to its own certificate
/// on a box): part of the health a trial firmware slot must show (`update::confirm`).
fn firmware_admin_health(cfg: &Config) -> Result<(), String> {
    let addr = crate::update::confirm::local(&cfg.admin.listen)?;
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build();
    let https = crate::webkit::https::uses_https(cfg);
    let agent: ureq::Agent = if https {
        let path = crate::webkit::https::pin_path(&cfg.storage.data_dir);
        let pin = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| crate::ctl::https::parse_pin(&t))
            .ok_or_else(|| format!("no admin certificate pin in {}", path.display()))?;
        crate::ctl::https::pinned_agent(config, pin)
    } else {
        config.into()
    };
    let url = format!("{}://{addr}/health", if https { "https" } else { "http" });
    let mut r = agent.get(&url).call().map_err(|e| format!("{url}: {e}"))?;
    let body = r.body_mut().read_to_string().unwrap_or_default();
    if r.status().is_success() && body.trim() == "ok" {
        Ok(())
    } else {
        Err(format!("{url}: {} {body}", r.status()))
    }
}
