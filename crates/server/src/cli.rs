//! The `openscouter` command line: serve, migrate, openapi, admin, analyze, backup, restore.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::clock::SystemClock;
use crate::config::Config;
use crate::domain::Role as UserRole;

#[derive(Debug, Parser)]
#[command(name = "openscouter", version, about = "OpenScouter API server, worker and tools")]
pub struct Cli {
    /// Configuration file (TOML, same names as the environment variables).
    #[arg(long, global = true, env = "OPENSCOUTER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (API, worker and scheduler by default).
    Serve {
        /// Address to listen on (overrides OPENSCOUTER_LISTEN); port 0 picks a free port.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        #[arg(long, value_enum, default_value = "all")]
        role: crate::Role,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Analyse exported sessions offline (the NDJSON of `GET /api/sessions/:id/export`) and
    /// print insights, findings and analytics as JSON; thresholds come from the session line.
    Analyze {
        /// One session file.
        #[arg(long, conflicts_with = "study", required_unless_present = "study")]
        input: Option<PathBuf>,
        /// A folder of session files (`*.ndjson`): every finding counts as confirmed and the
        /// study report is printed too.
        #[arg(long)]
        study: Option<PathBuf>,
        /// With `--input`: treat every finding as confirmed and add the single-session report.
        #[arg(long)]
        confirm_all: bool,
    },
    /// Back up the embedded SQLite database to FILE while the server runs: a consistent
    /// snapshot, integrity- and schema-checked (on PostgreSQL use pg_dump; docs/deploy.md).
    Backup {
        /// The backup file to write (must not exist).
        file: PathBuf,
    },
    /// Restore a backup into an empty data directory (never over a database), apply the
    /// migrations it lacks and re-apply journaled erasures; then `openscouter serve`.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// More erasure journals to merge (the old data directory's, each node's); repeatable.
        #[arg(long)]
        journal: Vec<PathBuf>,
    },
    /// Re-apply every journaled erasure whose person still has data (after pg_restore).
    ReapplyErasures {
        /// More erasure journals to merge; repeatable.
        #[arg(long)]
        journal: Vec<PathBuf>,
    },
    /// Administrative tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user (the way to bootstrap the first admin).
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long, env = "OPENSCOUTER_ADMIN_PASSWORD")]
        password: String,
        #[arg(long, value_parser = ["admin", "business", "tester"])]
        role: String,
        #[arg(long)]
        full_name: Option<String>,
        /// Business accounts: the organization to create.
        #[arg(long)]
        organization: Option<String>,
    },
}

fn fail(msg: impl std::fmt::Display) -> std::process::ExitCode {
    eprintln!("openscouter: {msg}");
    std::process::ExitCode::FAILURE
}

/// Runs the command line; the process exit code.
pub async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        println!("{}", crate::http::openapi_json());
        return std::process::ExitCode::SUCCESS;
    }
    if let Command::Analyze { input, study, confirm_all } = &cli.command {
        return match analyze(input.as_deref(), study.as_deref(), *confirm_all) {
            Ok(json) => {
                println!("{json}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    crate::telemetry::init_logs(config.log_format);
    match cli.command {
        Command::Openapi | Command::Analyze { .. } => std::process::ExitCode::SUCCESS,
        Command::Migrate => match crate::open_store(&config).await {
            Ok(store) => match store.migrate().await {
                Ok(n) => {
                    println!("{n} migration(s) applied ({})", store.backend());
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            },
            Err(e) => fail(e),
        },
        Command::Backup { file } => match crate::services::backup::backup(&config, &file).await {
            Ok(w) => {
                println!(
                    "backup written to {} ({} bytes, schema version {}, integrity ok{})",
                    w.path.display(),
                    w.bytes,
                    w.schema_version,
                    if w.with_jwt_secret {
                        "; holds the generated JWT secret: keep it as secret as the data"
                    } else {
                        ""
                    }
                );
                std::process::ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::Restore { file, journal } => match crate::restore(config, &file, &journal).await {
            Ok(r) => {
                println!(
                    "restored {} into {} (schema {} + {} migration(s); JWT secret {}; {} erasure(s) re-applied); \
                         start it with `openscouter serve`",
                    file.display(),
                    r.database.display(),
                    r.schema_version,
                    r.migrations_applied,
                    if r.jwt_secret { "restored" } else { "from the configuration" },
                    r.erasures_reapplied
                );
                std::process::ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::ReapplyErasures { journal } => {
            let state = match crate::build_state(config, Arc::new(SystemClock)).await {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            match crate::services::backup::reapply_erasures(&state.app, &journal).await {
                Ok(n) => {
                    println!("{n} erasure(s) re-applied");
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Command::Serve { listen, role } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            let listener = match tokio::net::TcpListener::bind(config.listen).await {
                Ok(l) => l,
                Err(e) => return fail(format!("cannot listen on {}: {e}", config.listen)),
            };
            let state = match crate::build_state(config, Arc::new(SystemClock)).await {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let shutdown = CancellationToken::new();
            crate::cancel_on_signals(shutdown.clone());
            match crate::serve(state, listener, role, shutdown).await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
        Command::Admin {
            command: AdminCommand::CreateUser { email, password, role, full_name, organization },
        } => {
            let state = match crate::build_state(config, Arc::new(SystemClock)).await {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let role = UserRole::parse(&role).unwrap_or(UserRole::Tester);
            let signup = crate::services::accounts::Signup {
                full_name: full_name.unwrap_or_else(|| email.split('@').next().unwrap_or("Admin").to_owned()),
                email,
                password,
                role,
                organization_name: organization,
            };
            match crate::services::accounts::create_user(&state, signup).await {
                Ok(user) => {
                    println!("created {} {} ({})", user.role.as_str(), user.email, user.id);
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}

/// `openscouter analyze`: reads the files, hands their text to the pure engine.
fn analyze(
    input: Option<&std::path::Path>,
    study: Option<&std::path::Path>,
    confirm_all: bool,
) -> Result<String, String> {
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let value = match (input, study) {
        (Some(file), _) => openscouter_analysis::analyze_ndjson_report(&read(file)?, confirm_all)
            .map_err(|e| format!("{}: {e}", file.display()))?,
        (None, Some(dir)) => {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
                .collect();
            paths.sort();
            if paths.is_empty() {
                return Err(format!("no .ndjson files in {}", dir.display()));
            }
            let files = paths
                .iter()
                .map(|p| {
                    Ok((
                        p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                        read(p)?,
                    ))
                })
                .collect::<Result<Vec<_>, String>>()?;
            openscouter_analysis::analyze_study_ndjson(&files).map_err(|e| e.to_string())?
        }
        (None, None) => return Err("give --input FILE or --study DIR".into()),
    };
    serde_json::to_string_pretty(&value).map_err(|e| e.to_string())
}
