//! The `pierre` command: parse the command line, load settings, run.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pierre::config::{ConfigError, Settings};
use pierre::startup::Application;
use pierre::telemetry::init_tracing;

/// Pierre: training analytics for endurance athletes and their coaches.
#[derive(Debug, Parser)]
#[command(name = "pierre", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web application (the default).
    Serve,
    /// Run only the background job worker (no web server), for scaling jobs
    /// separately; serve it with `PIERRE_WORKER=off`. Stops on ctrl-c or SIGTERM,
    /// letting the current job finish (or releasing it to the queue).
    Worker,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Administrators and roles: create an admin, grant or revoke a role.
    #[command(subcommand)]
    Admin(cli::AdminCommand),
    /// Keys for secrets at rest: re-encrypt everything with the current key.
    #[command(subcommand)]
    Keys(cli::KeysCommand),
    /// OAuth apps: point them at the provider simulator, create the Strava push subscription.
    #[command(subcommand)]
    OauthApps(cli::OauthAppsCommand),
    /// Store a demo athlete with two years of synthetic activities (once; prints the sign-in).
    SeedDemo {
        /// How many days of training, ending today.
        #[arg(long, default_value_t = 730)]
        days: u32,
    },
    /// Store many synthetic athletes (athlete{i}@bulk.pierre.local) with activities without
    /// streams, for load tests; skips athletes that exist.
    SeedBulk {
        /// How many athletes.
        #[arg(long, default_value_t = 1000)]
        athletes: u32,
        /// How many days of training each, ending yesterday.
        #[arg(long, default_value_t = 1825)]
        days: u32,
        /// The generator's seed (same seed, same athletes and activities).
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// The password of every bulk athlete.
        #[arg(long, default_value = pierre::seed_bulk::BULK_PASSWORD)]
        password: String,
    },
    /// Run the provider simulator: synthetic athletes behind Strava's OAuth and API v3
    /// and Garmin's OAuth 2.0 (PKCE), pings and FIT files (see docs/PROVIDER-SIM.md).
    /// Needs no database.
    ProviderSim {
        /// Port to listen on.
        #[arg(long, default_value_t = 8090)]
        port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// How many synthetic athletes.
        #[arg(long, default_value_t = 3)]
        athletes: u32,
        /// How many activities each, the newest yesterday.
        #[arg(long, default_value_t = 60)]
        activities_per_athlete: u32,
        /// The generator's seed (same seed, same athletes and activities).
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// The app's authorization callback domain (redirect URIs must lie in it;
        /// localhost and 127.0.0.1 are always accepted).
        #[arg(long, default_value = "localhost")]
        callback_domain: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The simulator needs neither settings nor a database.
    let command = match cli.command {
        Some(Command::ProviderSim {
            port,
            host,
            athletes,
            activities_per_athlete,
            seed,
            callback_domain,
        }) => {
            let config = pierre::provider_sim::SimConfig {
                athletes: athletes.clamp(1, pierre::provider_sim::data::MAX_ATHLETES),
                activities_per_athlete: activities_per_athlete.min(20_000),
                seed,
                callback_domain,
                ..pierre::provider_sim::SimConfig::default()
            };
            return provider_sim(std::net::SocketAddr::new(host, port), config);
        }
        other => other,
    };
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => return config_failure(&err),
    };
    init_tracing(settings.environment, &settings.log_filter);
    let command = command.unwrap_or(Command::Serve);
    if settings.secret_key_generated && matches!(command, Command::Serve | Command::Worker) {
        tracing::warn!(
            "PIERRE_SECRET_KEY is not set: using a random key for this run (development only); \
             sessions and encrypted data will not survive a restart"
        );
    }
    if settings.data_keys_derived && matches!(command, Command::Serve | Command::Worker) {
        tracing::warn!(
            "PIERRE_DATA_KEYS is not set: secrets at rest use a key derived from PIERRE_SECRET_KEY \
             (key id \"dev\", development only); set PIERRE_DATA_KEYS before storing real secrets"
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: could not start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Serve => Application::build(settings)
                .await?
                .run_until_stopped()
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::Worker => pierre::startup::run_worker(
                settings,
                pierre::clock::Clock::system(),
                pierre::startup::shutdown_signal(),
            )
            .await
            .map(|()| ExitCode::SUCCESS),
            Command::Migrate => migrate(&settings).await.map(|()| ExitCode::SUCCESS),
            // Admin commands report their own outcome: one line, a specific status.
            Command::Admin(admin) => Ok(cli::run(&settings, admin).await),
            Command::Keys(keys) => Ok(cli::run_keys(&settings, keys).await),
            Command::OauthApps(command) => Ok(cli::run_oauth_apps(settings, command).await),
            Command::SeedDemo { days } => {
                seed_demo(&settings, days).await.map(|()| ExitCode::SUCCESS)
            }
            Command::SeedBulk {
                athletes,
                days,
                seed,
                password,
            } => {
                let options = pierre::seed_bulk::BulkOptions {
                    athletes,
                    days: days.clamp(1, 36_500),
                    seed,
                    password,
                    today: chrono::Utc::now().date_naive(),
                };
                seed_bulk(&settings, &options)
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            // Handled before the settings are read.
            Command::ProviderSim { .. } => Ok(ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "pierre stopped with an error");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_failure(err: &ConfigError) -> ExitCode {
    eprintln!("{err}");
    ExitCode::from(2)
}

/// `pierre provider-sim`: serve until interrupted.
fn provider_sim(addr: std::net::SocketAddr, config: pierre::provider_sim::SimConfig) -> ExitCode {
    let listener = match std::net::TcpListener::bind(addr) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: could not listen on {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: could not start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let running =
            pierre::provider_sim::start(listener, config, pierre::clock::Clock::system())?;
        let config = running.sim.config();
        println!("Provider simulator (Strava and Garmin) at {}", running.base_url);
        println!(
            "  client id {}, client secret {}, callback domain {}",
            config.client_id, config.client_secret, config.callback_domain
        );
        println!(
            "  authorize {0}/oauth/authorize, token {0}/oauth/token, API {0}/api/v3",
            running.base_url
        );
        println!(
            "  Garmin: authorize {0}/garmin/oauth2Confirm, token {0}/garmin/di-oauth2-service/oauth/token, API {0}/garmin/wellness-api",
            running.base_url
        );
        println!(
            "  {} athletes x {} activities (seed {}); faults: POST {}/__sim/faults",
            config.athletes, config.activities_per_athlete, config.seed, running.base_url
        );
        running.server.await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: the provider simulator stopped: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn seed_demo(settings: &Settings, days: u32) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let options = pierre::db::connect_options(&settings.database)?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(settings.database.acquire_timeout)
        .connect_with(options)
        .await
        .context("could not connect to the database (DATABASE_URL)")?;
    match pierre::seed::seed_demo(&pool, days.clamp(1, 3650)).await? {
        pierre::seed::Seeded::AlreadyThere => println!("demo data already present"),
        pierre::seed::Seeded::Created { activities } => println!(
            "demo athlete created with {activities} activities: sign in as {} with the password \"{}\"",
            pierre::seed::DEMO_EMAIL,
            pierre::seed::DEMO_PASSWORD
        ),
    }
    match pierre::seed_coach::seed_demo_coach(&pool, chrono::Utc::now().date_naive()).await? {
        pierre::seed_coach::SeededCoach::AlreadyThere => println!("demo coach already present"),
        pierre::seed_coach::SeededCoach::Created {
            athletes,
            activities,
        } => println!(
            "demo coach created with {athletes} linked athletes ({activities} activities): sign in as {} with the same password",
            pierre::seed_coach::COACH_EMAIL
        ),
    }
    pool.close().await;
    Ok(())
}

async fn seed_bulk(
    settings: &Settings,
    options: &pierre::seed_bulk::BulkOptions,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use pierre::seed_bulk::BulkSeeded;
    let db_options = pierre::db::connect_options(&settings.database)?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(settings.database.acquire_timeout)
        .connect_with(db_options)
        .await
        .context("could not connect to the database (DATABASE_URL)")?;
    println!(
        "seeding {} bulk athletes x {} days from {} (seed {})",
        options.athletes,
        options.days,
        options.first_day(),
        options.seed
    );
    let outcome = pierre::seed_bulk::seed_bulk(&pool, options, |p| {
        println!(
            "  {}/{} athletes, {} activities, {:.1} s",
            p.athletes,
            p.of,
            p.activities,
            p.elapsed.as_secs_f64()
        );
    })
    .await?;
    match outcome {
        BulkSeeded::AlreadyThere { athletes } => {
            println!("bulk data already present: all {athletes} athletes exist");
        }
        BulkSeeded::Created {
            athletes,
            skipped,
            activities,
            elapsed,
        } => println!(
            "bulk athletes created: {athletes} ({skipped} already there) with {activities} activities \
             in {:.1} s; sign in as {} … with the password \"{}\"",
            elapsed.as_secs_f64(),
            pierre::seed_bulk::bulk_email(0),
            options.password
        ),
    }
    pool.close().await;
    Ok(())
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let options = pierre::db::connect_options(&settings.database)?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(settings.database.acquire_timeout)
        .connect_with(options)
        .await
        .context("could not connect to the database (DATABASE_URL)")?;
    pierre::db::migrate(&pool)
        .await
        .context("migration failed")?;
    tracing::info!(
        latest = pierre::db::latest_migration(),
        "migrations applied"
    );
    pool.close().await;
    Ok(())
}
