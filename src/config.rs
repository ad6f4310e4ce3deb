//! Typed settings read from the environment.
//!
//! Every value is parsed and validated once, at start-up. A missing or malformed
//! value is a [`ConfigError`] naming the variable and what it expects; `main`
//! prints it on one line and exits with status 2.
//!
//! Parsing goes through a lookup function rather than `std::env` directly, so
//! tests can feed any set of variables without touching the process environment.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ipnet::IpNet;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretBox, SecretString};
use url::Url;

/// Minimum length of `PIERRE_SECRET_KEY` once base64-decoded.
pub const MIN_SECRET_KEY_BYTES: usize = 32;

/// The deployment environment: changes logging format and how strict defaults are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

impl Environment {
    #[must_use]
    pub const fn is_production(self) -> bool {
        matches!(self, Self::Production)
    }
}

/// A configuration problem, phrased for the person starting the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {var} {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: &'static str,
    /// What is wrong and what is expected, as a sentence fragment.
    pub problem: String,
}

impl ConfigError {
    fn new(var: &'static str, problem: impl Into<String>) -> Self {
        Self {
            var,
            problem: problem.into(),
        }
    }
}

/// The key used for signing and encryption. Never printed.
pub struct SecretKey(SecretBox<[u8]>);

impl SecretKey {
    /// Wrap raw key bytes.
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(SecretBox::new(bytes.into_boxed_slice()))
    }

    /// A fresh random key (development only).
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = vec![0_u8; MIN_SECRET_KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// The key bytes, for the code that signs or encrypts.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl Clone for SecretKey {
    fn clone(&self) -> Self {
        Self::from_bytes(self.expose().to_vec())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

/// Database connection settings.
#[derive(Clone)]
pub struct DatabaseSettings {
    /// Full connection URL; may contain a password, so it is never logged.
    pub url: SecretString,
    /// Connections this instance may hold in total (all pools together).
    pub max_connections: u32,
    /// How long a request waits for a free connection before it is answered 503.
    pub acquire_timeout: Duration,
    /// Server-side `statement_timeout` applied to every connection.
    pub statement_timeout: Duration,
    /// Apply pending migrations when `pierre serve` starts.
    pub migrate_on_start: bool,
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("migrate_on_start", &self.migrate_on_start)
            .finish()
    }
}

/// Limits on activity uploads, enforced while the upload streams in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest single activity file (or zip entry, decompressed), bytes.
    pub max_file_bytes: u64,
    /// Largest zip archive, bytes.
    pub max_zip_bytes: u64,
    /// Most entries in one zip archive.
    pub max_zip_entries: usize,
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub database: DatabaseSettings,
    pub http_host: IpAddr,
    pub http_port: u16,
    /// Actix workers; each gets its own small connection pool.
    pub http_workers: usize,
    pub log_filter: String,
    pub secret_key: SecretKey,
    /// True when the key was generated because none was configured (development only).
    pub secret_key_generated: bool,
    /// Keys for secrets at rest (`PIERRE_DATA_KEYS`; the first encrypts).
    pub data_keys: crate::crypto::DataKeys,
    /// True when `PIERRE_DATA_KEYS` was unset and the key was derived from the
    /// secret key (development only).
    pub data_keys_derived: bool,
    /// The URL people use to reach Pierre (behind Nginx in production).
    pub public_url: Url,
    /// Origins allowed to call the JSON API cross-origin. Empty: same-origin only.
    pub cors_allowed_origins: Vec<String>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The separate listener for `/metrics`.
    pub metrics_addr: SocketAddr,
    /// Largest request body accepted, in bytes (uploads use their own limits).
    pub max_body_bytes: usize,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_absolute: Duration,
    /// Activity upload limits.
    pub upload: UploadLimits,
    /// Whether `pierre serve` runs a job worker in-process (`PIERRE_WORKER`,
    /// `on` by default; `off` when separate `pierre worker` processes run the jobs).
    pub run_worker: bool,
}

impl Settings {
    /// Read settings from the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first variable that is missing or malformed.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read settings from a map (tests).
    ///
    /// # Errors
    /// As [`Settings::from_env`].
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    /// Read settings through any lookup function.
    ///
    /// # Errors
    /// As [`Settings::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let environment = match env.get("PIERRE_ENV").as_deref() {
            None | Some("development" | "dev") => Environment::Development,
            Some("production" | "prod") => Environment::Production,
            Some(other) => {
                return Err(ConfigError::new(
                    "PIERRE_ENV",
                    format!("must be \"development\" or \"production\" (got {other:?})"),
                ));
            }
        };

        let database = database_settings(&env)?;
        let http_host: IpAddr = env.parse_or(
            "HTTP_HOST",
            IpAddr::from([127, 0, 0, 1]),
            "an IP address such as 127.0.0.1 or 0.0.0.0",
        )?;
        let http_port: u16 = env.parse_or("HTTP_PORT", 8081, "a port number from 0 to 65535")?;
        let default_workers =
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let http_workers: usize = env.parse_or(
            "HTTP_WORKERS",
            default_workers,
            "a whole number from 1 to 256",
        )?;
        if !(1..=256).contains(&http_workers) {
            return Err(ConfigError::new(
                "HTTP_WORKERS",
                format!("must be a whole number from 1 to 256 (got {http_workers})"),
            ));
        }
        let log_filter = env.get("RUST_LOG").unwrap_or_else(|| "info".to_owned());
        if tracing_subscriber::EnvFilter::try_new(&log_filter).is_err() {
            return Err(ConfigError::new(
                "RUST_LOG",
                format!(
                    "must be a tracing filter such as \"info\" or \"pierre=debug,info\" (got {log_filter:?})"
                ),
            ));
        }

        let (secret_key, secret_key_generated) = secret_key(&env, environment)?;
        let public_url = public_url(&env, environment, http_host, http_port)?;
        let (data_keys, data_keys_derived) = data_keys(&env, environment, &secret_key)?;

        let cors_allowed_origins = env
            .list("CORS_ALLOWED_ORIGINS")
            .into_iter()
            .map(|origin| parse_origin(&origin))
            .collect::<Result<Vec<_>, _>>()?;

        let trusted_proxies = env
            .list("PIERRE_TRUSTED_PROXIES")
            .into_iter()
            .map(|item| parse_proxy(&item))
            .collect::<Result<Vec<_>, _>>()?;

        let metrics_addr: SocketAddr = env.parse_or(
            "METRICS_ADDR",
            SocketAddr::from(([127, 0, 0, 1], 9091)),
            "a socket address such as 127.0.0.1:9091",
        )?;
        if metrics_addr.ip() == http_host && metrics_addr.port() == http_port && http_port != 0 {
            return Err(ConfigError::new(
                "METRICS_ADDR",
                "must differ from HTTP_HOST:HTTP_PORT: metrics are never served on the public listener",
            ));
        }

        let max_body_bytes: usize = env.parse_or(
            "PIERRE_MAX_BODY_BYTES",
            1024 * 1024,
            "a size in bytes, at least 1024",
        )?;
        if max_body_bytes < 1024 {
            return Err(ConfigError::new(
                "PIERRE_MAX_BODY_BYTES",
                format!("must be a size in bytes, at least 1024 (got {max_body_bytes})"),
            ));
        }

        let session_idle = env.seconds_in(
            "SESSION_IDLE_TIMEOUT_SECS",
            12.0 * 3600.0,
            60.0,
            30.0 * 86_400.0,
        )?;
        let session_absolute = env.seconds_in(
            "SESSION_ABSOLUTE_TIMEOUT_SECS",
            14.0 * 86_400.0,
            60.0,
            365.0 * 86_400.0,
        )?;
        if session_absolute < session_idle {
            return Err(ConfigError::new(
                "SESSION_ABSOLUTE_TIMEOUT_SECS",
                "must be at least SESSION_IDLE_TIMEOUT_SECS",
            ));
        }
        let upload = upload_limits(&env)?;
        let run_worker = match env.get("PIERRE_WORKER").as_deref().map(str::trim) {
            None | Some("on" | "true" | "1" | "yes") => true,
            Some("off" | "false" | "0" | "no") => false,
            Some(other) => {
                return Err(ConfigError::new(
                    "PIERRE_WORKER",
                    format!("must be \"on\" or \"off\" (got {other:?})"),
                ));
            }
        };
        if environment.is_production() && public_url.scheme() != "https" {
            return Err(ConfigError::new(
                "PIERRE_PUBLIC_URL",
                "must be an https:// URL in production (cookies are Secure and HSTS is sent)",
            ));
        }

        Ok(Self {
            environment,
            database,
            http_host,
            http_port,
            http_workers,
            log_filter,
            secret_key,
            secret_key_generated,
            data_keys,
            data_keys_derived,
            public_url,
            cors_allowed_origins,
            trusted_proxies,
            metrics_addr,
            max_body_bytes,
            session_idle,
            session_absolute,
            upload,
            run_worker,
        })
    }

    /// Whether Pierre is reached over HTTPS (then HSTS and `Secure` cookies apply).
    #[must_use]
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// Cookie name for the session: `__Host-` prefixed (which requires
    /// `Secure`) behind HTTPS; plain in development over plain HTTP.
    #[must_use]
    pub fn session_cookie_name(&self) -> &'static str {
        if self.is_https() {
            "__Host-pierre_session"
        } else {
            "pierre_session"
        }
    }

    /// The public origin (`scheme://host[:port]`), for same-origin checks.
    #[must_use]
    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }
}

/// Lookup helpers that turn a raw variable into a typed value or a precise error.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// The trimmed value, with empty treated as unset.
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    fn required(&self, name: &'static str, expected: &str) -> Result<String, ConfigError> {
        self.get(name)
            .ok_or_else(|| ConfigError::new(name, format!("is not set; expected {expected}")))
    }

    fn parse_or<T: FromStr>(
        &self,
        name: &'static str,
        default: T,
        expected: &str,
    ) -> Result<T, ConfigError> {
        self.get(name).map_or(Ok(default), |raw| {
            raw.parse()
                .map_err(|_| ConfigError::new(name, format!("must be {expected} (got {raw:?})")))
        })
    }

    fn seconds_in(
        &self,
        name: &'static str,
        default: f64,
        min: f64,
        max: f64,
    ) -> Result<Duration, ConfigError> {
        let value: f64 = self.parse_or(name, default, "a number of seconds such as 43200")?;
        if !(value.is_finite() && value >= min && value <= max) {
            return Err(ConfigError::new(
                name,
                format!("must be a number of seconds from {min} to {max} (got {value})"),
            ));
        }
        Ok(Duration::from_secs_f64(value))
    }

    fn seconds(&self, name: &'static str, default: f64) -> Result<Duration, ConfigError> {
        let value: f64 = self.parse_or(name, default, "a number of seconds such as 3 or 0.5")?;
        if !(value.is_finite() && value > 0.0 && value <= 3600.0) {
            return Err(ConfigError::new(
                name,
                format!(
                    "must be a number of seconds greater than 0 and at most 3600 (got {value})"
                ),
            ));
        }
        Ok(Duration::from_secs_f64(value))
    }

    fn boolean(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self
            .get(name)
            .map(|raw| raw.to_ascii_lowercase())
            .as_deref()
        {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError::new(
                name,
                format!("must be true or false (got {other:?})"),
            )),
        }
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn database_settings(env: &Env<'_>) -> Result<DatabaseSettings, ConfigError> {
    let database_url = env.required(
        "DATABASE_URL",
        "a PostgreSQL URL such as postgres://user:pass@host:5432/pierre",
    )?;
    if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
        return Err(ConfigError::new(
            "DATABASE_URL",
            "must start with postgres:// or postgresql:// (value not shown: it may contain a password)",
        ));
    }
    if Url::parse(&database_url).is_err() {
        return Err(ConfigError::new(
            "DATABASE_URL",
            "is not a valid URL (value not shown: it may contain a password)",
        ));
    }
    let max_connections: u32 = env.parse_or(
        "DATABASE_MAX_CONNECTIONS",
        20,
        "a whole number from 2 to 10000",
    )?;
    if !(2..=10_000).contains(&max_connections) {
        return Err(ConfigError::new(
            "DATABASE_MAX_CONNECTIONS",
            format!("must be a whole number from 2 to 10000 (got {max_connections})"),
        ));
    }
    let acquire_timeout = env.seconds("DATABASE_ACQUIRE_TIMEOUT_SECS", 3.0)?;
    let statement_timeout = env.seconds("DATABASE_STATEMENT_TIMEOUT_SECS", 30.0)?;
    let migrate_on_start = env.boolean("PIERRE_MIGRATE_ON_START", true)?;
    Ok(DatabaseSettings {
        url: SecretString::from(database_url),
        max_connections,
        acquire_timeout,
        statement_timeout,
        migrate_on_start,
    })
}

fn secret_key(env: &Env<'_>, environment: Environment) -> Result<(SecretKey, bool), ConfigError> {
    Ok(match env.get("PIERRE_SECRET_KEY") {
        Some(encoded) => (parse_secret_key(&encoded)?, false),
        None if environment.is_production() => {
            return Err(ConfigError::new(
                "PIERRE_SECRET_KEY",
                "is required in production: at least 32 random bytes, base64-encoded (for example `openssl rand -base64 32`)",
            ));
        }
        None => (SecretKey::generate(), true),
    })
}

fn data_keys(
    env: &Env<'_>,
    environment: Environment,
    secret_key: &SecretKey,
) -> Result<(crate::crypto::DataKeys, bool), ConfigError> {
    match env.get("PIERRE_DATA_KEYS") {
        Some(raw) => crate::crypto::DataKeys::parse(&raw)
            .map(|keys| (keys, false))
            .map_err(|problem| ConfigError::new("PIERRE_DATA_KEYS", problem)),
        None if environment.is_production() => Err(ConfigError::new(
            "PIERRE_DATA_KEYS",
            "is required in production: id:key entries, comma-separated, current key first, each key 32 random bytes base64-encoded (for example `2026a:$(openssl rand -base64 32)`)",
        )),
        None => Ok((
            crate::crypto::DataKeys::derive_dev(secret_key.expose()),
            true,
        )),
    }
}

fn public_url(
    env: &Env<'_>,
    environment: Environment,
    http_host: IpAddr,
    http_port: u16,
) -> Result<Url, ConfigError> {
    match env.get("PIERRE_PUBLIC_URL") {
        Some(raw) => parse_public_url(&raw),
        None if environment.is_production() => Err(ConfigError::new(
            "PIERRE_PUBLIC_URL",
            "is required in production: the https:// URL people use to reach Pierre",
        )),
        None => {
            let shown_host = if http_host.is_unspecified() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                http_host
            };
            let raw = format!("http://{}/", SocketAddr::new(shown_host, http_port));
            parse_public_url(&raw)
        }
    }
}

fn upload_limits(env: &Env<'_>) -> Result<UploadLimits, ConfigError> {
    let upload = UploadLimits {
        max_file_bytes: env.parse_or(
            "UPLOAD_MAX_FILE_BYTES",
            50_000_000,
            "a size in bytes such as 50000000",
        )?,
        max_zip_bytes: env.parse_or(
            "UPLOAD_MAX_ZIP_BYTES",
            1_000_000_000,
            "a size in bytes such as 1000000000",
        )?,
        max_zip_entries: env.parse_or(
            "UPLOAD_MAX_ZIP_ENTRIES",
            20_000,
            "a whole number such as 20000",
        )?,
    };
    if upload.max_file_bytes < 1024 || upload.max_zip_bytes < 1024 || upload.max_zip_entries == 0 {
        return Err(ConfigError::new(
            "UPLOAD_MAX_FILE_BYTES",
            "and UPLOAD_MAX_ZIP_BYTES must be at least 1024 and UPLOAD_MAX_ZIP_ENTRIES at least 1",
        ));
    }
    Ok(upload)
}

fn parse_secret_key(encoded: &str) -> Result<SecretKey, ConfigError> {
    let bytes = BASE64.decode(encoded.as_bytes()).map_err(|_| {
        ConfigError::new(
            "PIERRE_SECRET_KEY",
            "must be base64 (for example the output of `openssl rand -base64 32`)",
        )
    })?;
    if bytes.len() < MIN_SECRET_KEY_BYTES {
        return Err(ConfigError::new(
            "PIERRE_SECRET_KEY",
            format!(
                "must decode to at least {MIN_SECRET_KEY_BYTES} bytes (got {}); generate one with `openssl rand -base64 32`",
                bytes.len()
            ),
        ));
    }
    Ok(SecretKey::from_bytes(bytes))
}

fn parse_public_url(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|_| {
        ConfigError::new(
            "PIERRE_PUBLIC_URL",
            format!("must be an absolute http:// or https:// URL such as https://pierre.example.org (got {raw:?})"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::new(
            "PIERRE_PUBLIC_URL",
            format!(
                "must be an absolute http:// or https:// URL such as https://pierre.example.org (got {raw:?})"
            ),
        ));
    }
    Ok(url)
}

fn parse_origin(raw: &str) -> Result<String, ConfigError> {
    let problem = || {
        ConfigError::new(
            "CORS_ALLOWED_ORIGINS",
            format!(
                "must be a comma-separated list of origins such as https://app.example.org (bad entry {raw:?})"
            ),
        )
    };
    let url = Url::parse(raw).map_err(|_| problem())?;
    let is_bare_origin = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty();
    if !is_bare_origin {
        return Err(problem());
    }
    Ok(url.origin().ascii_serialization())
}

fn parse_proxy(raw: &str) -> Result<IpNet, ConfigError> {
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            ConfigError::new(
                "PIERRE_TRUSTED_PROXIES",
                format!("must be a comma-separated list of IP addresses or CIDR ranges such as 127.0.0.1,10.0.0.0/8 (bad entry {raw:?})"),
            )
        })
}

/// A database URL with any password replaced, safe to log.
#[must_use]
pub fn redact_url(raw: &str) -> String {
    Url::parse(raw).map_or_else(
        |_| "[unparseable]".to_owned(),
        |mut url| {
            if url.password().is_some() {
                let _ = url.set_password(Some("redacted"));
            }
            url.to_string()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("DATABASE_URL".into(), "postgres://u:p@localhost/db".into());
        for (key, value) in pairs {
            vars.insert((*key).to_owned(), (*value).to_owned());
        }
        Settings::from_map(&vars)
    }

    #[test]
    fn defaults_match_the_documented_table() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.database.max_connections, 20);
        assert_eq!(s.database.acquire_timeout, Duration::from_secs(3));
        assert_eq!(s.http_host, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(s.http_port, 8081);
        assert_eq!(s.log_filter, "info");
        assert_eq!(s.metrics_addr, SocketAddr::from(([127, 0, 0, 1], 9091)));
        assert!(s.secret_key_generated);
        assert_eq!(s.secret_key.expose().len(), 32);
        assert!(s.data_keys_derived);
        assert_eq!(s.data_keys.current_id(), "dev");
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8081/");
        assert!(s.cors_allowed_origins.is_empty());
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(s.session_idle, Duration::from_hours(12));
        assert_eq!(s.session_absolute, Duration::from_hours(14 * 24));
        assert_eq!(s.session_cookie_name(), "pierre_session");
        assert!(s.run_worker);
        assert!(!settings(&[("PIERRE_WORKER", "off")]).unwrap().run_worker);
    }

    #[test]
    fn missing_database_url_names_the_variable() {
        let err = Settings::from_map(&HashMap::new()).unwrap_err();
        assert_eq!(err.var, "DATABASE_URL");
    }

    #[test]
    fn malformed_values_name_their_variable() {
        let cases = [
            ("HTTP_PORT", "eighty"),
            ("HTTP_PORT", "70000"),
            ("HTTP_HOST", "localhost:80"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("DATABASE_MAX_CONNECTIONS", "-3"),
            ("DATABASE_ACQUIRE_TIMEOUT_SECS", "soon"),
            ("DATABASE_ACQUIRE_TIMEOUT_SECS", "0"),
            ("PIERRE_ENV", "staging"),
            ("PIERRE_SECRET_KEY", "not base64!!"),
            ("PIERRE_SECRET_KEY", "c2hvcnQ="),
            ("PIERRE_PUBLIC_URL", "pierre.example.org"),
            ("PIERRE_PUBLIC_URL", "ftp://pierre.example.org"),
            ("CORS_ALLOWED_ORIGINS", "https://ok.example, not an origin"),
            ("CORS_ALLOWED_ORIGINS", "https://example.org/path"),
            ("PIERRE_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("METRICS_ADDR", "9091"),
            ("RUST_LOG", "pierre=[["),
            ("PIERRE_MIGRATE_ON_START", "maybe"),
            ("PIERRE_WORKER", "sometimes"),
            ("SESSION_IDLE_TIMEOUT_SECS", "5"),
            ("SESSION_ABSOLUTE_TIMEOUT_SECS", "120"),
            ("PIERRE_DATA_KEYS", "k1"),
            ("PIERRE_DATA_KEYS", "k1:c2hvcnQ="),
        ];
        for (var, value) in cases {
            let err = settings(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{var}={value:?} gave {err}");
        }
    }

    #[test]
    fn production_requires_secret_and_public_url() {
        let err = settings(&[("PIERRE_ENV", "production")]).unwrap_err();
        assert_eq!(err.var, "PIERRE_SECRET_KEY");
        let key = BASE64.encode([7_u8; 32]);
        let err =
            settings(&[("PIERRE_ENV", "production"), ("PIERRE_SECRET_KEY", &key)]).unwrap_err();
        assert_eq!(err.var, "PIERRE_PUBLIC_URL");
        let err = settings(&[
            ("PIERRE_ENV", "production"),
            ("PIERRE_SECRET_KEY", &key),
            ("PIERRE_PUBLIC_URL", "https://pierre.example.org"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "PIERRE_DATA_KEYS");
        let data_keys = format!("2026a:{key}");
        let s = settings(&[
            ("PIERRE_ENV", "production"),
            ("PIERRE_SECRET_KEY", &key),
            ("PIERRE_PUBLIC_URL", "https://pierre.example.org"),
            ("PIERRE_DATA_KEYS", &data_keys),
        ])
        .unwrap();
        assert_eq!(s.data_keys.current_id(), "2026a");
        assert!(!s.data_keys_derived);
        assert!(s.is_https());
        assert_eq!(s.session_cookie_name(), "__Host-pierre_session");
        assert!(!s.secret_key_generated);
        let err = settings(&[
            ("PIERRE_ENV", "production"),
            ("PIERRE_SECRET_KEY", &key),
            ("PIERRE_PUBLIC_URL", "http://pierre.example.org"),
            ("PIERRE_DATA_KEYS", &data_keys),
        ])
        .unwrap_err();
        assert_eq!(err.var, "PIERRE_PUBLIC_URL");
        assert_eq!(s.public_origin(), "https://pierre.example.org");
    }

    #[test]
    fn lists_are_parsed_and_normalised() {
        let s = settings(&[
            (
                "CORS_ALLOWED_ORIGINS",
                " https://a.example.org , http://localhost:3000/ ",
            ),
            ("PIERRE_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,::1"),
        ])
        .unwrap();
        assert_eq!(
            s.cors_allowed_origins,
            ["https://a.example.org", "http://localhost:3000"]
        );
        assert_eq!(s.trusted_proxies.len(), 3);
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let key = BASE64.encode([0xAB_u8; 32]);
        let s = settings(&[
            ("DATABASE_URL", "postgres://pierre:hunter2secret@db/pierre"),
            ("PIERRE_SECRET_KEY", &key),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(shown.contains("DataKeys"), "{shown}");
        assert!(!shown.contains("hunter2secret"), "{shown}");
        assert!(!shown.contains(&key), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
