//! The `segl` binary: `serve`, `config`, `ctl`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use segl::config::{Config, DEFAULT_TOML};

#[derive(Parser)]
#[command(name = "segl", version, about = "Segl S/MIME mail-encryption gateway")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the gateway (without --config: the embedded default, loopback ports, ./segl-data).
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Run even as root on an appliance (segl refuses that by default: it runs as user segl).
        #[arg(long)]
        allow_root: bool,
    },
    /// Print or check configuration.
    Config {
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// Administer the running gateway through its admin API.
    Ctl(segl::ctl::CtlArgs),
    /// Ask NTP servers for the time once (the box's root helper sets the clock from it).
    Sntp {
        /// Servers, asked in turn (`host`, an address, or `host:port`).
        #[arg(required = true)]
        servers: Vec<String>,
        /// Seconds to wait for each server.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Print the default configuration, every key commented.
    Default,
    /// Validate a configuration file.
    Check { file: PathBuf },
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEGL_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("warn,segl={}", cfg.log.level))
    });
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if cfg.log.json {
        b.json().init();
    } else {
        b.init();
    }
}

/// `segl sntp`: prints `<server unix time> <offset> <server>` of the first good answer.
fn sntp(servers: &[String], timeout: u64) -> ExitCode {
    let wait = std::time::Duration::from_secs(timeout.max(1));
    match segl::appliance::sntp::query_any(servers, wait) {
        Ok(s) => {
            println!("{:.3} {:.3} {}", s.server_unix, s.offset, s.server);
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Config {
            cmd: ConfigCmd::Default,
        } => {
            print!("{DEFAULT_TOML}");
            ExitCode::SUCCESS
        }
        Cmd::Config {
            cmd: ConfigCmd::Check { file },
        } => match Config::load(&file) {
            Ok(_) => {
                println!("{}: OK", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Cmd::Sntp { servers, timeout } => sntp(&servers, timeout),
        Cmd::Ctl(args) => match segl::ctl::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Cmd::Serve { config, allow_root } => {
            // Without --config: the file the first change through the admin wrote, if any.
            let config = config.or_else(|| {
                let p = Config::default_config()
                    .storage
                    .data_dir
                    .join(segl::liveconf::FILE_NAME);
                p.exists().then_some(p)
            });
            let cfg = match &config {
                Some(p) => Config::load(p),
                None => Ok(Config::default_config()),
            };
            let cfg = match cfg {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            init_logging(&cfg);
            if let Err(e) = segl::startup::check_user(allow_root) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(segl::app::serve(cfg, config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start");
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
