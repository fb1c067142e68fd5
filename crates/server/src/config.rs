//! Configuration: defaults < optional TOML file < environment, parsed once into typed values.
//!
//! The file uses the same names as the environment (`DATABASE_URL = "…"`,
//! `OPENSCOUTER_LISTEN = "…"`), so an operator learns one vocabulary. Any invalid value stops
//! start-up with one line naming the setting.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use secrecy::SecretString;

use crate::auth::password::PasswordCost;
use crate::domain::CronJob;
pub use crate::ratelimit::LimiterFallback;

/// Deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Requests per minute for each tier (spec §1.6); ingestion counts items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub unauthenticated: u32,
    pub free: u32,
    pub pro: u32,
    pub ingest: u32,
    /// Inbound webhook events/min per source (Stripe, Telegram).
    pub webhook: u32,
}

/// Stripe billing (checkout, Connect, payouts, signed webhooks); configured as a whole or not
/// at all.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `https://api.stripe.com`, or a local fake in tests.
    pub api_base: String,
    pub secret_key: SecretString,
    /// The endpoint's signing secret (`whsec_…`), checked against `Stripe-Signature`.
    pub webhook_secret: SecretString,
    /// The platform fee on each session's compensation.
    pub platform_fee: crate::domain::money::FeeRate,
}

/// The Telegram bot (spec §7): present when a bot token is configured.
#[derive(Debug, Clone)]
pub struct TelegramConfig {
    /// Bot API base URL; calls go to `<base>/bot<token>/<method>`.
    pub api_base: String,
    pub bot_token: SecretString,
    /// The bot's username, for `https://t.me/<bot>?start=<code>` links.
    pub bot_username: String,
    /// What `X-Telegram-Bot-Api-Secret-Token` (or `x-webhook-secret`) must carry on
    /// `/api/telegram/webhook`: the Telegram secret, else the generic webhook secret.
    pub webhook_secret: Option<SecretString>,
}

/// Scheduled backups of the embedded store (`OPENSCOUTER_BACKUP_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    /// Cron expression (UTC) of the backups.
    pub cron: String,
    /// The folder the backups go to (`openscouter-<UTC time>.db`).
    pub dir: PathBuf,
    /// How many of the newest backups in the folder are kept.
    pub keep: usize,
}

/// The typed configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub env: Environment,
    pub data_dir: PathBuf,
    pub jwt_secret: SecretString,
    pub cron_secret: Option<SecretString>,
    pub webhook_secret: Option<SecretString>,
    pub cors_origins: Vec<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub rate_limits: RateLimits,
    pub max_body_bytes: usize,
    pub ingest_max_body_bytes: usize,
    pub request_timeout_secs: u64,
    /// Connections open at once; at the cap the longest idle ones make room.
    pub max_connections: usize,
    /// Time allowed for a request's head, from its first byte (or from accept).
    pub header_read_timeout_secs: u64,
    /// How long an idle keep-alive connection is kept.
    pub keep_alive_timeout_secs: u64,
    /// How long a just-rotated refresh token may be presented again for the same pair (0: never).
    pub refresh_reuse_grace_secs: u64,
    pub hsts: bool,
    pub log_format: LogFormat,
    pub db_max_connections: u32,
    /// The optional LLM narrative: `(base_url, model, key, timeout_secs)`.
    pub llm: Option<(String, String, SecretString, u64)>,
    /// Webhook targets may be private/loopback addresses (tests, closed networks).
    pub webhook_allow_private: bool,
    /// Stripe billing; `None`: billing routes answer 503 and studies launch without payment.
    pub stripe: Option<StripeConfig>,
    /// Background workers in this process (roles `worker` and `all`).
    pub workers: usize,
    /// Lease of a claimed job, in milliseconds: how long after its worker's last heartbeat
    /// another worker may take it over.
    pub job_lease_ms: i64,
    /// How often a running job renews its lease (real time, milliseconds).
    pub job_heartbeat_ms: u64,
    /// Page size of a newly created SQLite database.
    pub sqlite_page_size: u32,
    /// Lifetime of the per-node identity cache (0 = off).
    pub identity_cache_secs: u64,
    /// The server's public origin (`https://openscouter.com`): the OAuth issuer, the MCP
    /// resource and the dashboard links. `None`: taken from each request's `Host`.
    pub public_url: Option<String>,
    /// Not settable from outside: tests lower it to keep the suite fast.
    pub password_cost: PasswordCost,
    /// The Telegram bot (None: Telegram routes answer 503, offers are not sent).
    pub telegram: Option<TelegramConfig>,
    /// Cron expression (UTC) of each scheduled job; a job without one only runs through
    /// `POST /api/cron/<job>`.
    pub schedules: Vec<(CronJob, Option<String>)>,
    /// Minutes past `maxDurationMinutes` before a running session is abandoned.
    pub session_grace_minutes: i64,
    /// Days raw streams (events, facial, voice) are kept; reports and findings stay.
    pub retention_days: i64,
    /// Threads of the bounded password hashing pool (`OPENSCOUTER_PASSWORD_HASH_WORKERS`);
    /// the pool itself lives in `App` (`AppCore::passwords`).
    pub password_hash_workers: usize,
    /// Requests that may wait for a hashing thread (`OPENSCOUTER_PASSWORD_HASH_QUEUE`).
    pub password_hash_queue: usize,
    /// Redis (`redis://…`): shared rate limits and the identity-cache invalidation bus. A
    /// secret because the URL may carry a password.
    pub redis_url: Option<SecretString>,
    /// What the shared limiter does while Redis is unreachable.
    pub limiter_fallback: LimiterFallback,
    // ---- backups (issue #33) ----
    /// The erasure journal file, appended on every erasure request and read by a restore.
    pub erasure_journal: PathBuf,
    /// Scheduled backups (embedded store only); `None`: off.
    pub backup_schedule: Option<BackupSchedule>,
    /// `smtp://host:port` or `smtps://user:pass@host:465`; `None`: mail goes to `<data dir>/outbox/`.
    pub smtp_url: Option<SecretString>,
    /// The `From` of outgoing mail.
    pub mail_from: String,
    /// An unverified business cannot launch or pay, an unverified tester cannot accept.
    pub require_verified_email: bool,
}

/// Every setting the server reads, with its default (`None`: no default).
pub const SETTINGS: &[(&str, Option<&str>, &str)] = &[
    ("DATABASE_URL", Some("sqlite://./data/openscouter.db"), "sqlite://PATH or postgres://…"),
    ("OPENSCOUTER_LISTEN", Some("127.0.0.1:8080"), "address to listen on"),
    ("OPENSCOUTER_ENV", Some("development"), "development or production"),
    ("OPENSCOUTER_DATA_DIR", Some("./data"), "where the development JWT secret is kept"),
    ("OPENSCOUTER_JWT_SECRET", None, "HS256 key, ≥ 32 bytes; required in production"),
    ("OPENSCOUTER_CRON_SECRET", None, "bearer secret of /api/cron/*"),
    ("OPENSCOUTER_WEBHOOK_SECRET", None, "x-webhook-secret of inbound webhooks"),
    ("OPENSCOUTER_CORS_ORIGINS", None, "comma list; https://*.example.com allowed"),
    ("OPENSCOUTER_TRUSTED_PROXIES", Some(""), "comma list of IPs/CIDRs whose X-Forwarded-For is believed"),
    ("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", Some("30"), "requests/min per IP"),
    ("OPENSCOUTER_RATE_LIMIT_FREE", Some("120"), "requests/min per user or token, free plan"),
    ("OPENSCOUTER_RATE_LIMIT_PRO", Some("600"), "requests/min per user or token, pro plan"),
    ("OPENSCOUTER_RATE_LIMIT_INGEST", Some("1000"), "ingested items/min per session"),
    ("OPENSCOUTER_RATE_LIMIT_WEBHOOK", Some("1000"), "inbound webhook events/min per source"),
    ("OPENSCOUTER_MAX_BODY_BYTES", Some("1048576"), "request body limit"),
    ("OPENSCOUTER_INGEST_MAX_BODY_BYTES", Some("2097152"), "body limit of /api/data/*"),
    ("OPENSCOUTER_REQUEST_TIMEOUT_SECS", Some("30"), "per-request timeout"),
    (
        "OPENSCOUTER_MAX_CONNECTIONS",
        Some("1024"),
        "connections open at once (lowered to fit ulimit -n); at the cap idle ones are closed",
    ),
    (
        "OPENSCOUTER_HEADER_READ_TIMEOUT_SECS",
        Some("10"),
        "time allowed for a request's headers (slow clients are disconnected)",
    ),
    ("OPENSCOUTER_KEEP_ALIVE_TIMEOUT_SECS", Some("75"), "how long an idle keep-alive connection is kept"),
    (
        "OPENSCOUTER_REFRESH_REUSE_GRACE_SECS",
        Some("10"),
        "a refresh token presented again this soon after its rotation gets the same pair (0: strict)",
    ),
    ("OPENSCOUTER_HSTS", Some("false"), "send Strict-Transport-Security (behind a TLS proxy)"),
    ("OPENSCOUTER_LOG_FORMAT", None, "json or pretty (json in production)"),
    ("OPENSCOUTER_DB_MAX_CONNECTIONS", Some("16"), "PostgreSQL pool size / SQLite readers"),
    (
        "OPENSCOUTER_LLM_BASE_URL",
        None,
        "OpenAI-compatible API base URL (narrative off unless URL, model and key are set)",
    ),
    ("OPENSCOUTER_LLM_MODEL", None, "model name for the narrative"),
    ("OPENSCOUTER_LLM_API_KEY", None, "API key for the narrative provider"),
    (
        "OPENSCOUTER_LLM_TIMEOUT_SECS",
        Some("15"),
        "narrative timeout; the deterministic text is kept on timeout",
    ),
    (
        "OPENSCOUTER_WEBHOOK_ALLOW_PRIVATE",
        Some("false"),
        "let webhook endpoints target private or loopback addresses",
    ),
    ("OPENSCOUTER_WORKERS", Some("2"), "background workers per worker/all node"),
    (
        "OPENSCOUTER_JOB_LEASE_SECS",
        Some("30"),
        "how long after its worker's last heartbeat a running job may be taken over",
    ),
    (
        "OPENSCOUTER_JOB_HEARTBEAT_SECS",
        Some("10"),
        "how often a running job renews its lease (must be shorter than the lease)",
    ),
    (
        "OPENSCOUTER_SQLITE_PAGE_SIZE",
        Some("4096"),
        "page size of a new SQLite database (512..65536, a power of two)",
    ),
    (
        "OPENSCOUTER_PUBLIC_URL",
        None,
        "public origin, e.g. https://openscouter.com (OAuth issuer, MCP resource, dashboard links); required in production, else the request's Host",
    ),
    (
        "OPENSCOUTER_PASSWORD_HASH_WORKERS",
        None,
        "threads hashing passwords at once (default: the number of CPUs)",
    ),
    (
        "OPENSCOUTER_PASSWORD_HASH_QUEUE",
        Some("32"),
        "password hashes that may wait for a thread; beyond that 503 with Retry-After",
    ),
    (
        "OPENSCOUTER_IDENTITY_CACHE_SECS",
        Some("5"),
        "how long a node caches sign-in sessions, users, organizations (0 = off)",
    ),
    ("OPENSCOUTER_TELEGRAM_API_BASE", Some("https://api.telegram.org"), "Telegram Bot API base URL"),
    ("OPENSCOUTER_TELEGRAM_BOT_TOKEN", None, "bot token from @BotFather (Telegram is off without it)"),
    (
        "OPENSCOUTER_TELEGRAM_BOT_USERNAME",
        None,
        "the bot's username, for t.me links (required with the token)",
    ),
    (
        "OPENSCOUTER_TELEGRAM_WEBHOOK_SECRET",
        None,
        "secret_token given to setWebhook (default: OPENSCOUTER_WEBHOOK_SECRET)",
    ),
    (
        "OPENSCOUTER_CRON_SESSION_TIMEOUTS",
        Some("*/5 * * * *"),
        "cron (UTC) of the session timeouts; off = never",
    ),
    ("OPENSCOUTER_CRON_REMINDERS", Some("*/15 * * * *"), "cron (UTC) of the reminders; off = never"),
    (
        "OPENSCOUTER_CRON_STUDY_FOLLOWUPS",
        Some("0 * * * *"),
        "cron (UTC) of the 72 h study follow-ups; off = never",
    ),
    (
        "OPENSCOUTER_CRON_RETENTION",
        Some("30 3 * * *"),
        "cron (UTC) of the raw-stream retention purge; off = never",
    ),
    ("OPENSCOUTER_CRON_PAYOUT_RETRY", Some("*/30 * * * *"), "cron (UTC) of the payout retry; off = never"),
    (
        "OPENSCOUTER_SESSION_GRACE_MINUTES",
        Some("30"),
        "minutes past a study's maxDurationMinutes before a running session is abandoned",
    ),
    (
        "OPENSCOUTER_RETENTION_DAYS",
        Some("365"),
        "days raw streams are kept (events, facial, voice); reports and findings stay",
    ),
    (
        "REDIS_URL",
        None,
        "redis://host:6379: shared rate limits and instant revocation across nodes (default: per node)",
    ),
    (
        "OPENSCOUTER_REDIS_UNAVAILABLE",
        Some("local"),
        "while Redis is unreachable: local (count per node), open (allow) or closed (429)",
    ),
    // ---- backups (issue #33) ----
    (
        "OPENSCOUTER_ERASURE_JOURNAL",
        None,
        "erasure journal file a restore re-applies (default DATA_DIR/erasures.journal; keep it off the database's disk)",
    ),
    (
        "OPENSCOUTER_BACKUP_SCHEDULE",
        Some("off"),
        "cron (UTC) of scheduled backups of the embedded SQLite store; off = never",
    ),
    ("OPENSCOUTER_BACKUP_DIR", Some("./backups"), "folder of the scheduled backups"),
    ("OPENSCOUTER_BACKUP_KEEP", Some("7"), "how many scheduled backups are kept (the newest)"),
    // ---- mail and accounts (issue #25) ----
    (
        "OPENSCOUTER_SMTP_URL",
        None,
        "smtp://host:2525 or smtps://user:pass@host:465 (?tls=required for STARTTLS); unset: mail is written to DATA_DIR/outbox/*.eml",
    ),
    ("OPENSCOUTER_MAIL_FROM", Some("OpenScouter <no-reply@openscouter.local>"), "From of outgoing mail"),
    (
        "OPENSCOUTER_REQUIRE_VERIFIED_EMAIL",
        Some("false"),
        "an unverified business cannot launch or pay, an unverified tester cannot accept",
    ),
    ("OPENSCOUTER_STRIPE_API_BASE", Some("https://api.stripe.com"), "Stripe API base URL"),
    (
        "OPENSCOUTER_STRIPE_SECRET_KEY",
        None,
        "Stripe secret key; billing is off (launch needs no payment) unless set",
    ),
    (
        "OPENSCOUTER_STRIPE_WEBHOOK_SECRET",
        None,
        "signing secret of the Stripe webhook endpoint (whsec_…); required with the key",
    ),
    (
        "OPENSCOUTER_PLATFORM_FEE_PERCENT",
        Some("20"),
        "platform fee on each session's compensation, 0 to 99.99 (two decimals at most)",
    ),
];

/// The setting naming each job's schedule.
pub fn schedule_setting(job: CronJob) -> &'static str {
    match job {
        CronJob::SessionTimeouts => "OPENSCOUTER_CRON_SESSION_TIMEOUTS",
        CronJob::Reminders => "OPENSCOUTER_CRON_REMINDERS",
        CronJob::StudyFollowups => "OPENSCOUTER_CRON_STUDY_FOLLOWUPS",
        CronJob::Retention => "OPENSCOUTER_CRON_RETENTION",
        CronJob::PayoutRetry => "OPENSCOUTER_CRON_PAYOUT_RETRY",
    }
}

/// A configuration error: one line for the operator.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

fn bad(name: &str, why: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("{name}: {why}"))
}

impl Config {
    /// Loads from the process environment and an optional file (`--config` or `OPENSCOUTER_CONFIG`).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let file = file.map(Path::to_path_buf).or_else(|| env.get("OPENSCOUTER_CONFIG").map(PathBuf::from));
        let file_values = match file {
            Some(path) => read_file(&path)?,
            None => BTreeMap::new(),
        };
        Self::from_sources(&file_values, &env)
    }

    /// Merges file values and environment (environment wins) over the defaults and parses.
    pub fn from_sources(
        file: &BTreeMap<String, String>,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut raw: BTreeMap<&str, String> = BTreeMap::new();
        for (name, default, _) in SETTINGS {
            let value =
                env.get(*name).or_else(|| file.get(*name)).cloned().or_else(|| default.map(str::to_owned));
            if let Some(v) = value {
                raw.insert(name, v);
            }
        }
        if let Some(unknown) = file.keys().find(|k| !SETTINGS.iter().any(|(n, _, _)| n == k)) {
            return Err(ConfigError(format!("unknown setting {unknown} in the configuration file")));
        }
        let v = Values(raw);
        let env_kind = environment(&v)?;
        let database_url = database_url(&v)?;
        let data_dir = PathBuf::from(v.get("OPENSCOUTER_DATA_DIR"));
        let jwt_secret = jwt_secret(&v, env_kind, &data_dir)?;
        let (redis_url, limiter_fallback) = redis(&v)?;
        let (erasure_journal, backup_schedule) = backups(&v, &data_dir, &database_url)?;
        let (job_lease_ms, job_heartbeat_ms) = job_timing(&v)?;
        Ok(Self {
            erasure_journal,
            backup_schedule,
            redis_url,
            limiter_fallback,
            telegram: telegram(&v)?,
            schedules: schedules(&v)?,
            session_grace_minutes: v.whole("OPENSCOUTER_SESSION_GRACE_MINUTES", 7 * 24 * 60)?,
            retention_days: v.positive_i64("OPENSCOUTER_RETENTION_DAYS")?,
            listen: v.get("OPENSCOUTER_LISTEN").parse().map_err(|e| bad("OPENSCOUTER_LISTEN", e))?,
            database_url,
            env: env_kind,
            data_dir,
            jwt_secret,
            cron_secret: v.secret("OPENSCOUTER_CRON_SECRET"),
            webhook_secret: v.secret("OPENSCOUTER_WEBHOOK_SECRET"),
            cors_origins: cors_origins(&v)?,
            trusted_proxies: trusted_proxies(&v)?,
            rate_limits: RateLimits {
                unauthenticated: v.per_minute("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED")?,
                free: v.per_minute("OPENSCOUTER_RATE_LIMIT_FREE")?,
                pro: v.per_minute("OPENSCOUTER_RATE_LIMIT_PRO")?,
                ingest: v.per_minute("OPENSCOUTER_RATE_LIMIT_INGEST")?,
                webhook: v.per_minute("OPENSCOUTER_RATE_LIMIT_WEBHOOK")?,
            },
            max_body_bytes: v.as_usize("OPENSCOUTER_MAX_BODY_BYTES")?,
            ingest_max_body_bytes: v.as_usize("OPENSCOUTER_INGEST_MAX_BODY_BYTES")?,
            request_timeout_secs: v.positive("OPENSCOUTER_REQUEST_TIMEOUT_SECS")?,
            max_connections: v.as_usize("OPENSCOUTER_MAX_CONNECTIONS")?,
            header_read_timeout_secs: v.positive("OPENSCOUTER_HEADER_READ_TIMEOUT_SECS")?,
            keep_alive_timeout_secs: v.positive("OPENSCOUTER_KEEP_ALIVE_TIMEOUT_SECS")?,
            refresh_reuse_grace_secs: v.seconds("OPENSCOUTER_REFRESH_REUSE_GRACE_SECS")?,
            hsts: v.flag("OPENSCOUTER_HSTS")?,
            log_format: log_format(&v, env_kind)?,
            db_max_connections: v.per_minute("OPENSCOUTER_DB_MAX_CONNECTIONS")?,
            llm: llm(&v)?,
            webhook_allow_private: v.flag("OPENSCOUTER_WEBHOOK_ALLOW_PRIVATE")?,
            stripe: stripe_config(
                v.get("OPENSCOUTER_STRIPE_API_BASE"),
                v.get("OPENSCOUTER_PLATFORM_FEE_PERCENT"),
                v.secret("OPENSCOUTER_STRIPE_SECRET_KEY"),
                v.secret("OPENSCOUTER_STRIPE_WEBHOOK_SECRET"),
            )?,
            workers: v.as_usize("OPENSCOUTER_WORKERS")?,
            job_lease_ms,
            job_heartbeat_ms,
            sqlite_page_size: match v.get("OPENSCOUTER_SQLITE_PAGE_SIZE").parse::<u32>() {
                Ok(p) if (512..=65536).contains(&p) && p.is_power_of_two() => p,
                _ => {
                    return Err(bad(
                        "OPENSCOUTER_SQLITE_PAGE_SIZE",
                        "expected a power of two from 512 to 65536",
                    ));
                }
            },
            identity_cache_secs: v.seconds("OPENSCOUTER_IDENTITY_CACHE_SECS")?,
            public_url: public_url(&v, env_kind)?,
            smtp_url: smtp_url(&v)?,
            mail_from: mail_from(&v)?,
            require_verified_email: v.flag("OPENSCOUTER_REQUIRE_VERIFIED_EMAIL")?,
            password_cost: PasswordCost::default(),
            password_hash_workers: match v.raw("OPENSCOUTER_PASSWORD_HASH_WORKERS").filter(|s| !s.is_empty())
            {
                Some(_) => v.as_usize("OPENSCOUTER_PASSWORD_HASH_WORKERS")?,
                None => std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            },
            password_hash_queue: v.as_usize("OPENSCOUTER_PASSWORD_HASH_QUEUE")?,
        })
    }
}

/// The merged raw values (environment over file over default), read by setting name; every
/// error names the setting and never echoes a secret.
struct Values<'a>(BTreeMap<&'a str, String>);

impl Values<'_> {
    /// The value as given (possibly empty), or `None` when unset without a default.
    fn raw(&self, name: &str) -> Option<&String> {
        self.0.get(name)
    }

    /// The value, or "" when unset.
    fn get(&self, name: &str) -> &str {
        self.raw(name).map_or("", String::as_str)
    }

    /// The value trimmed, `None` when unset or blank.
    fn given(&self, name: &str) -> Option<&str> {
        self.raw(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    /// A secret: `None` when unset or empty.
    fn secret(&self, name: &str) -> Option<SecretString> {
        self.raw(name).filter(|s| !s.is_empty()).map(|s| SecretString::from(s.clone()))
    }

    fn positive(&self, name: &str) -> Result<u64, ConfigError> {
        let v: u64 = self
            .get(name)
            .parse()
            .map_err(|_| bad(name, format!("expected a positive integer, got {:?}", self.get(name))))?;
        if v == 0 {
            return Err(bad(name, "must be greater than 0"));
        }
        Ok(v)
    }

    fn positive_i64(&self, name: &str) -> Result<i64, ConfigError> {
        i64::try_from(self.positive(name)?).map_err(|_| bad(name, "too large"))
    }

    fn as_usize(&self, name: &str) -> Result<usize, ConfigError> {
        usize::try_from(self.positive(name)?).map_err(|_| bad(name, "too large"))
    }

    /// Every limit both limiters count exactly (`ratelimit/cells.rs`); above it, refused here
    /// rather than mis-counted or crashed on at the first request.
    fn per_minute(&self, name: &str) -> Result<u32, ConfigError> {
        let max = crate::ratelimit::MAX_PER_MINUTE;
        u32::try_from(self.positive(name)?)
            .ok()
            .filter(|v| *v <= max)
            .ok_or_else(|| bad(name, format!("at most {max} per minute, got {}", self.get(name))))
    }

    /// A whole number from 0 to `max`.
    fn whole(&self, name: &str, max: u64) -> Result<i64, ConfigError> {
        let v: u64 = self.get(name).parse().map_err(|_| bad(name, "expected a whole number"))?;
        if v > max {
            return Err(bad(name, format!("at most {max}")));
        }
        i64::try_from(v).map_err(|_| bad(name, "too large"))
    }

    /// A whole number of seconds (0 allowed).
    fn seconds(&self, name: &str) -> Result<u64, ConfigError> {
        self.get(name).parse().map_err(|_| bad(name, "expected a whole number of seconds"))
    }

    /// `true`/`1` or `false`/`0`/empty.
    fn flag(&self, name: &str) -> Result<bool, ConfigError> {
        match self.get(name) {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            other => Err(bad(name, format!("expected true or false, got {other:?}"))),
        }
    }
}

fn environment(v: &Values) -> Result<Environment, ConfigError> {
    match v.get("OPENSCOUTER_ENV") {
        "development" => Ok(Environment::Development),
        "production" => Ok(Environment::Production),
        other => Err(bad("OPENSCOUTER_ENV", format!("expected development or production, got {other:?}"))),
    }
}

fn database_url(v: &Values) -> Result<String, ConfigError> {
    let url = v.get("DATABASE_URL");
    if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(bad("DATABASE_URL", "expected sqlite://PATH or postgres://…"));
    }
    Ok(url.to_owned())
}

fn jwt_secret(v: &Values, env: Environment, data_dir: &Path) -> Result<SecretString, ConfigError> {
    match v.raw("OPENSCOUTER_JWT_SECRET").filter(|s| !s.is_empty()) {
        Some(s) if s.len() < 32 => Err(bad("OPENSCOUTER_JWT_SECRET", "must be at least 32 bytes")),
        Some(s) => Ok(SecretString::from(s.clone())),
        None if env == Environment::Production => {
            Err(bad("OPENSCOUTER_JWT_SECRET", "is required in production"))
        }
        // Development: generated once, then kept, so restarts don't sign everyone out.
        None => Ok(SecretString::from(dev_jwt_secret(data_dir)?)),
    }
}

fn cors_origins(v: &Values) -> Result<Vec<String>, ConfigError> {
    let Some(list) = v.given("OPENSCOUTER_CORS_ORIGINS") else {
        return Ok(vec!["https://openscouter.com".into(), "https://*.openscouter.com".into()]);
    };
    let origins: Vec<String> =
        list.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    for o in &origins {
        crate::origin::OriginPattern::parse(o).map_err(|e| bad("OPENSCOUTER_CORS_ORIGINS", e))?;
    }
    Ok(origins)
}

fn trusted_proxies(v: &Values) -> Result<Vec<IpNet>, ConfigError> {
    v.get("OPENSCOUTER_TRUSTED_PROXIES")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>().or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from)).map_err(|_| {
                bad("OPENSCOUTER_TRUSTED_PROXIES", format!("{s:?} is not an IP address or CIDR"))
            })
        })
        .collect()
}

fn log_format(v: &Values, env: Environment) -> Result<LogFormat, ConfigError> {
    match v.raw("OPENSCOUTER_LOG_FORMAT").map(String::as_str) {
        Some("json") => Ok(LogFormat::Json),
        Some("pretty") => Ok(LogFormat::Pretty),
        None | Some("") if env == Environment::Production => Ok(LogFormat::Json),
        None | Some("") => Ok(LogFormat::Pretty),
        Some(other) => Err(bad("OPENSCOUTER_LOG_FORMAT", format!("expected json or pretty, got {other:?}"))),
    }
}

fn telegram(v: &Values) -> Result<Option<TelegramConfig>, ConfigError> {
    let username = v
        .raw("OPENSCOUTER_TELEGRAM_BOT_USERNAME")
        .map(|s| s.trim().trim_start_matches('@'))
        .filter(|s| !s.is_empty());
    match (v.secret("OPENSCOUTER_TELEGRAM_BOT_TOKEN"), username) {
        (Some(bot_token), Some(username)) => {
            let api_base = v.get("OPENSCOUTER_TELEGRAM_API_BASE").trim_end_matches('/').to_owned();
            if !(api_base.starts_with("https://") || api_base.starts_with("http://")) {
                return Err(bad("OPENSCOUTER_TELEGRAM_API_BASE", "expected an http(s) URL"));
            }
            if !username.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(bad("OPENSCOUTER_TELEGRAM_BOT_USERNAME", "letters, digits and _ only"));
            }
            let webhook_secret = v
                .secret("OPENSCOUTER_TELEGRAM_WEBHOOK_SECRET")
                .or_else(|| v.secret("OPENSCOUTER_WEBHOOK_SECRET"));
            Ok(Some(TelegramConfig {
                api_base,
                bot_token,
                bot_username: username.to_owned(),
                webhook_secret,
            }))
        }
        (None, None) => Ok(None),
        _ => Err(bad(
            "OPENSCOUTER_TELEGRAM_BOT_TOKEN",
            "Telegram needs OPENSCOUTER_TELEGRAM_BOT_TOKEN and OPENSCOUTER_TELEGRAM_BOT_USERNAME together",
        )),
    }
}

fn schedules(v: &Values) -> Result<Vec<(CronJob, Option<String>)>, ConfigError> {
    let mut schedules = Vec::new();
    for job in CronJob::ALL {
        let name = schedule_setting(*job);
        let expr = v.get(name).trim();
        let expr = if expr.is_empty() || expr == "off" {
            None
        } else {
            crate::domain::schedule::parse_cron(expr).map_err(|e| bad(name, e))?;
            Some(expr.to_owned())
        };
        schedules.push((*job, expr));
    }
    Ok(schedules)
}

fn redis(v: &Values) -> Result<(Option<SecretString>, LimiterFallback), ConfigError> {
    let url = match v.given("REDIS_URL") {
        // Plain redis:// only: TLS (rediss://) is not compiled in (docs/decisions.md).
        Some(url) if url.starts_with("redis://") => Some(SecretString::from(url.to_owned())),
        // The value is not echoed: it may carry a password.
        Some(_) => return Err(bad("REDIS_URL", "expected redis://…")),
        None => None,
    };
    let fallback = match v.get("OPENSCOUTER_REDIS_UNAVAILABLE") {
        "local" => LimiterFallback::Local,
        "open" => LimiterFallback::Open,
        "closed" => LimiterFallback::Closed,
        other => {
            return Err(bad(
                "OPENSCOUTER_REDIS_UNAVAILABLE",
                format!("expected local, open or closed, got {other:?}"),
            ));
        }
    };
    Ok((url, fallback))
}

/// The erasure journal's path and the optional backup schedule (issue #33).
fn backups(
    v: &Values,
    data_dir: &Path,
    database_url: &str,
) -> Result<(PathBuf, Option<BackupSchedule>), ConfigError> {
    let journal = match v.given("OPENSCOUTER_ERASURE_JOURNAL") {
        Some(p) => PathBuf::from(p),
        None => data_dir.join("erasures.journal"),
    };
    let schedule = match v.get("OPENSCOUTER_BACKUP_SCHEDULE").trim() {
        "" | "off" => None,
        expr => {
            crate::domain::schedule::parse_cron(expr).map_err(|e| bad("OPENSCOUTER_BACKUP_SCHEDULE", e))?;
            if !database_url.starts_with("sqlite:") {
                return Err(bad(
                    "OPENSCOUTER_BACKUP_SCHEDULE",
                    "scheduled backups are for the embedded SQLite store; on PostgreSQL use pg_dump (docs/deploy.md)",
                ));
            }
            let keep = v.as_usize("OPENSCOUTER_BACKUP_KEEP")?;
            let dir = v.get("OPENSCOUTER_BACKUP_DIR").trim();
            if dir.is_empty() {
                return Err(bad("OPENSCOUTER_BACKUP_DIR", "a folder is needed with a backup schedule"));
            }
            Some(BackupSchedule { cron: expr.to_owned(), dir: PathBuf::from(dir), keep })
        }
    };
    Ok((journal, schedule))
}

/// The optional LLM narrative: all three settings or none.
fn llm(v: &Values) -> Result<Option<(String, String, SecretString, u64)>, ConfigError> {
    match (
        v.raw("OPENSCOUTER_LLM_BASE_URL").filter(|s| !s.is_empty()),
        v.raw("OPENSCOUTER_LLM_MODEL").filter(|s| !s.is_empty()),
        v.secret("OPENSCOUTER_LLM_API_KEY"),
    ) {
        (Some(url), Some(model), Some(key)) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(bad("OPENSCOUTER_LLM_BASE_URL", "expected an http(s) URL"));
            }
            Ok(Some((url.clone(), model.clone(), key, v.positive("OPENSCOUTER_LLM_TIMEOUT_SECS")?)))
        }
        (None, None, None) => Ok(None),
        _ => Err(bad(
            "OPENSCOUTER_LLM_BASE_URL",
            "the narrative needs OPENSCOUTER_LLM_BASE_URL, OPENSCOUTER_LLM_MODEL and OPENSCOUTER_LLM_API_KEY together",
        )),
    }
}

/// The queue lease and its heartbeat, in ms; the heartbeat must be shorter.
fn job_timing(v: &Values) -> Result<(i64, u64), ConfigError> {
    let lease = v.positive("OPENSCOUTER_JOB_LEASE_SECS")?;
    let beat = v.positive("OPENSCOUTER_JOB_HEARTBEAT_SECS")?;
    if beat >= lease {
        return Err(bad("OPENSCOUTER_JOB_HEARTBEAT_SECS", "must be shorter than OPENSCOUTER_JOB_LEASE_SECS"));
    }
    let lease_ms = i64::try_from(lease)
        .map_err(|_| bad("OPENSCOUTER_JOB_LEASE_SECS", "too large"))?
        .saturating_mul(1000);
    Ok((lease_ms, beat.saturating_mul(1000)))
}

/// Outgoing mail's server, `smtp://` or `smtps://` (it may carry a password: never echoed).
fn smtp_url(v: &Values) -> Result<Option<SecretString>, ConfigError> {
    let Some(url) = v.secret("OPENSCOUTER_SMTP_URL") else { return Ok(None) };
    let raw = secrecy::ExposeSecret::expose_secret(&url);
    if !(raw.starts_with("smtp://") || raw.starts_with("smtps://")) {
        return Err(bad("OPENSCOUTER_SMTP_URL", "expected an smtp:// or smtps:// URL"));
    }
    Ok(Some(url))
}

/// The sender of outgoing mail, a valid mailbox.
fn mail_from(v: &Values) -> Result<String, ConfigError> {
    let from = v.get("OPENSCOUTER_MAIL_FROM").trim().to_owned();
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(bad("OPENSCOUTER_MAIL_FROM", "expected an address such as Name <no-reply@example.com>"));
    }
    Ok(from)
}

/// The public origin; required in production: the OAuth issuer, the MCP resource and dashboard
/// links must never follow a client's `Host` header where it matters (decision 121).
fn public_url(v: &Values, env: Environment) -> Result<Option<String>, ConfigError> {
    match v.given("OPENSCOUTER_PUBLIC_URL") {
        Some(url) => Ok(Some(public_origin(url).map_err(|e| bad("OPENSCOUTER_PUBLIC_URL", e))?)),
        None if env == Environment::Production => Err(bad(
            "OPENSCOUTER_PUBLIC_URL",
            "is required in production (e.g. https://openscouter.example.com)",
        )),
        None => Ok(None),
    }
}

/// An origin (`scheme://host[:port]`, http or https, no path, query or credentials), without
/// a trailing slash.
fn public_origin(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    if !plain {
        return Err(format!("expected an origin such as https://openscouter.com, got {raw:?}"));
    }
    Ok(url.origin().ascii_serialization())
}

/// Billing is configured by its secret key; the webhook secret must come with it (without one
/// no payment could ever be confirmed, so no study could launch).
fn stripe_config(
    api_base: &str,
    fee_percent: &str,
    key: Option<SecretString>,
    webhook: Option<SecretString>,
) -> Result<Option<StripeConfig>, ConfigError> {
    let (secret_key, webhook_secret) = match (key, webhook) {
        (Some(k), Some(w)) => (k, w),
        (None, None) => return Ok(None),
        _ => {
            return Err(bad(
                "OPENSCOUTER_STRIPE_SECRET_KEY",
                "billing needs OPENSCOUTER_STRIPE_SECRET_KEY and OPENSCOUTER_STRIPE_WEBHOOK_SECRET together",
            ));
        }
    };
    let base = api_base.trim_end_matches('/');
    let host = base.strip_prefix("https://").or_else(|| base.strip_prefix("http://")).unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad("OPENSCOUTER_STRIPE_API_BASE", "expected an http(s) URL"));
    }
    let platform_fee = crate::domain::money::FeeRate::parse_percent(fee_percent).ok_or_else(|| {
        bad(
            "OPENSCOUTER_PLATFORM_FEE_PERCENT",
            "expected a percentage from 0 to 99.99 with at most two decimals",
        )
    })?;
    Ok(Some(StripeConfig { api_base: base.to_owned(), secret_key, webhook_secret, platform_fee }))
}

/// Reads a TOML file of `NAME = value` pairs (strings, integers or booleans).
fn read_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError(format!("{}: {}", path.display(), e.message())))?;
    table
        .into_iter()
        .map(|(k, v)| {
            let s = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(ConfigError(format!(
                        "{}: {k} must be a string, integer or boolean, got {}",
                        path.display(),
                        other.type_str()
                    )));
                }
            };
            Ok((k, s))
        })
        .collect()
}

/// The development JWT secret: read from `DATA_DIR/jwt-secret`, created on first start.
fn dev_jwt_secret(data_dir: &Path) -> Result<String, ConfigError> {
    let path = data_dir.join("jwt-secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_owned();
        if s.len() >= 32 {
            return Ok(s);
        }
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| ConfigError(format!("cannot create {}: {e}", data_dir.display())))?;
    let secret = crate::auth::secrets::new_hex_token(32);
    std::fs::write(&path, &secret)
        .map_err(|e| ConfigError(format!("cannot write {}: {e}", path.display())))?;
    Ok(secret)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn environment_overrides_file_overrides_defaults() {
        let file = env(&[
            ("OPENSCOUTER_LISTEN", "127.0.0.1:9000"),
            ("OPENSCOUTER_RATE_LIMIT_FREE", "5"),
            ("OPENSCOUTER_JWT_SECRET", &"x".repeat(32)),
        ]);
        let c = Config::from_sources(&file, &env(&[("OPENSCOUTER_RATE_LIMIT_FREE", "7")])).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.rate_limits.free, 7);
        assert_eq!(c.rate_limits.pro, 600);
    }

    #[test]
    fn invalid_values_name_the_setting() {
        let secret = "x".repeat(32);
        for (k, v, needle) in [
            ("OPENSCOUTER_LISTEN", "nope", "OPENSCOUTER_LISTEN"),
            ("OPENSCOUTER_RATE_LIMIT_FREE", "0", "OPENSCOUTER_RATE_LIMIT_FREE"),
            ("OPENSCOUTER_RATE_LIMIT_PRO", "1000000001", "OPENSCOUTER_RATE_LIMIT_PRO: at most 1000000000"),
            ("OPENSCOUTER_RATE_LIMIT_INGEST", "99999999999", "OPENSCOUTER_RATE_LIMIT_INGEST: at most"),
            ("OPENSCOUTER_ENV", "staging", "OPENSCOUTER_ENV"),
            ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
            ("OPENSCOUTER_TRUSTED_PROXIES", "10.0.0.0/99", "OPENSCOUTER_TRUSTED_PROXIES"),
            ("OPENSCOUTER_CORS_ORIGINS", "ftp://x", "OPENSCOUTER_CORS_ORIGINS"),
        ] {
            let e =
                Config::from_sources(&BTreeMap::new(), &env(&[(k, v), ("OPENSCOUTER_JWT_SECRET", &secret)]))
                    .unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn telegram_and_schedules() {
        let secret = "x".repeat(32);
        let base = [("OPENSCOUTER_JWT_SECRET", secret.as_str())];
        let c = Config::from_sources(&BTreeMap::new(), &env(&base)).unwrap();
        assert!(c.telegram.is_none(), "off without a token");
        assert_eq!(c.retention_days, 365);
        assert!(c.schedules.iter().all(|(_, e)| e.is_some()), "every job scheduled by default");
        let on = [
            ("OPENSCOUTER_JWT_SECRET", secret.as_str()),
            ("OPENSCOUTER_TELEGRAM_BOT_TOKEN", "1:abc"),
            ("OPENSCOUTER_TELEGRAM_BOT_USERNAME", "@ScoutBot"),
            ("OPENSCOUTER_WEBHOOK_SECRET", "generic"),
            ("OPENSCOUTER_CRON_RETENTION", "off"),
        ];
        let c = Config::from_sources(&BTreeMap::new(), &env(&on)).unwrap();
        let t = c.telegram.unwrap();
        assert_eq!((t.api_base.as_str(), t.bot_username.as_str()), ("https://api.telegram.org", "ScoutBot"));
        assert!(t.webhook_secret.is_some(), "falls back to the generic webhook secret");
        assert!(c.schedules.iter().any(|(j, e)| *j == CronJob::Retention && e.is_none()));
        for (k, v, needle) in [
            ("OPENSCOUTER_TELEGRAM_BOT_TOKEN", "1:abc", "OPENSCOUTER_TELEGRAM_BOT_TOKEN"),
            ("OPENSCOUTER_CRON_REMINDERS", "every day", "OPENSCOUTER_CRON_REMINDERS"),
            ("OPENSCOUTER_RETENTION_DAYS", "0", "OPENSCOUTER_RETENTION_DAYS"),
        ] {
            let e =
                Config::from_sources(&BTreeMap::new(), &env(&[(k, v), ("OPENSCOUTER_JWT_SECRET", &secret)]))
                    .unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn public_url_is_an_origin() {
        let secret = "x".repeat(32);
        let with = |v: &str| {
            Config::from_sources(
                &BTreeMap::new(),
                &env(&[("OPENSCOUTER_PUBLIC_URL", v), ("OPENSCOUTER_JWT_SECRET", &secret)]),
            )
        };
        assert_eq!(
            with("https://OpenScouter.com/").unwrap().public_url.as_deref(),
            Some("https://openscouter.com")
        );
        assert_eq!(
            with("http://127.0.0.1:8080").unwrap().public_url.as_deref(),
            Some("http://127.0.0.1:8080")
        );
        for bad in ["ftp://x.io", "https://x.io/app", "https://x.io?a=1", "nope"] {
            assert!(with(bad).unwrap_err().to_string().contains("OPENSCOUTER_PUBLIC_URL"), "{bad}");
        }
    }

    #[test]
    fn billing_is_all_or_nothing() {
        let secret = "x".repeat(32);
        let base = [("OPENSCOUTER_JWT_SECRET", secret.as_str())];
        let c = Config::from_sources(&BTreeMap::new(), &env(&base)).unwrap();
        assert!(c.stripe.is_none());
        assert_eq!(c.rate_limits.webhook, 1000);
        let both = [
            ("OPENSCOUTER_JWT_SECRET", secret.as_str()),
            ("OPENSCOUTER_STRIPE_SECRET_KEY", "sk_test_1"),
            ("OPENSCOUTER_STRIPE_WEBHOOK_SECRET", "whsec_1"),
            ("OPENSCOUTER_STRIPE_API_BASE", "http://127.0.0.1:9/"),
            ("OPENSCOUTER_PLATFORM_FEE_PERCENT", "12.5"),
        ];
        let s = Config::from_sources(&BTreeMap::new(), &env(&both)).unwrap().stripe.unwrap();
        assert_eq!((s.api_base.as_str(), s.platform_fee.0), ("http://127.0.0.1:9", 1250));
        let e = Config::from_sources(&BTreeMap::new(), &env(&both[..2])).unwrap_err();
        assert!(e.to_string().contains("OPENSCOUTER_STRIPE_WEBHOOK_SECRET"), "{e}");
        let mut bad_fee = both.to_vec();
        bad_fee[4].1 = "100";
        let e = Config::from_sources(&BTreeMap::new(), &env(&bad_fee)).unwrap_err();
        assert!(e.to_string().contains("OPENSCOUTER_PLATFORM_FEE_PERCENT"), "{e}");
    }

    #[test]
    fn backup_settings() {
        let secret = "x".repeat(32);
        let c = Config::from_sources(&BTreeMap::new(), &env(&[("OPENSCOUTER_JWT_SECRET", &secret)])).unwrap();
        assert!(c.backup_schedule.is_none(), "off by default");
        assert_eq!(c.erasure_journal, PathBuf::from("./data/erasures.journal"));
        let on = [
            ("OPENSCOUTER_JWT_SECRET", secret.as_str()),
            ("OPENSCOUTER_BACKUP_SCHEDULE", "0 3 * * *"),
            ("OPENSCOUTER_BACKUP_DIR", "/srv/backups"),
            ("OPENSCOUTER_BACKUP_KEEP", "3"),
            ("OPENSCOUTER_ERASURE_JOURNAL", "/srv/backups/erasures.journal"),
        ];
        let c = Config::from_sources(&BTreeMap::new(), &env(&on)).unwrap();
        let b = c.backup_schedule.unwrap();
        assert_eq!((b.cron.as_str(), b.dir.as_path(), b.keep), ("0 3 * * *", Path::new("/srv/backups"), 3));
        assert_eq!(c.erasure_journal, PathBuf::from("/srv/backups/erasures.journal"));
        for (k, v, needle) in [
            ("OPENSCOUTER_BACKUP_SCHEDULE", "nightly", "OPENSCOUTER_BACKUP_SCHEDULE"),
            ("OPENSCOUTER_BACKUP_KEEP", "0", "OPENSCOUTER_BACKUP_KEEP"),
            ("DATABASE_URL", "postgres://db/x", "pg_dump"),
        ] {
            let mut pairs = on.to_vec();
            pairs.push((k, v));
            let e = Config::from_sources(&BTreeMap::new(), &env(&pairs)).unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn production_requires_a_jwt_secret() {
        let e =
            Config::from_sources(&BTreeMap::new(), &env(&[("OPENSCOUTER_ENV", "production")])).unwrap_err();
        assert!(e.to_string().contains("OPENSCOUTER_JWT_SECRET"));
    }

    /// Without a configured public origin, production would derive the OAuth issuer and
    /// dashboard links from the client's `Host` header: it refuses to start instead.
    #[test]
    fn production_requires_a_public_url() {
        let secret = "s".repeat(32);
        let prod = [("OPENSCOUTER_ENV", "production"), ("OPENSCOUTER_JWT_SECRET", secret.as_str())];
        let e = Config::from_sources(&BTreeMap::new(), &env(&prod)).unwrap_err();
        assert!(e.to_string().contains("OPENSCOUTER_PUBLIC_URL"), "{e}");
        let mut with_url = prod.to_vec();
        with_url.push(("OPENSCOUTER_PUBLIC_URL", "https://openscouter.example.com"));
        let c = Config::from_sources(&BTreeMap::new(), &env(&with_url)).unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://openscouter.example.com"));
    }
}
