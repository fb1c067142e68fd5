//! The `openscouter` command line: serve, migrate, openapi, admin, analyze.

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
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    crate::telemetry::init_logs(config.log_format);
    match cli.command {
        Command::Openapi => std::process::ExitCode::SUCCESS,
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
