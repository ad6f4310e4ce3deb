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
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Administrators and roles: create an admin, grant or revoke a role.
    #[command(subcommand)]
    Admin(cli::AdminCommand),
    /// Keys for secrets at rest: re-encrypt everything with the current key.
    #[command(subcommand)]
    Keys(cli::KeysCommand),
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => return config_failure(&err),
    };
    init_tracing(settings.environment, &settings.log_filter);
    let command = cli.command.unwrap_or(Command::Serve);
    if settings.secret_key_generated && matches!(command, Command::Serve) {
        tracing::warn!(
            "PIERRE_SECRET_KEY is not set: using a random key for this run (development only); \
             sessions and encrypted data will not survive a restart"
        );
    }
    if settings.data_keys_derived && matches!(command, Command::Serve) {
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
            Command::Migrate => migrate(&settings).await.map(|()| ExitCode::SUCCESS),
            // Admin commands report their own outcome: one line, a specific status.
            Command::Admin(admin) => Ok(cli::run(&settings, admin).await),
            Command::Keys(keys) => Ok(cli::run_keys(&settings, keys).await),
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
