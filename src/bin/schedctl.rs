//! `schedctl`: validate and simulate schedule files, and edit the schedules in
//! DynamoDB (table names and endpoint from the same settings as the function;
//! `AWS_ENDPOINT_URL` points it at a local emulator).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Duration, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use instance_scheduler::cloud::sim::FleetFile;
use instance_scheduler::plan::Settings;
use instance_scheduler::schedule::{Catalog, Direction, parse_time, parse_time_zone};
use instance_scheduler::simulate::{Span, simulate};
use instance_scheduler::store::files;

#[derive(Parser)]
#[command(
    name = "schedctl",
    version,
    about = "Validate, simulate and edit instance schedules"
)]
struct Cli {
    /// Output for scripts (`json`) or people (`text`).
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// IANA time zone for schedules without a TimeZone.
    #[arg(long, global = true, env = "DEFAULT_TIME_ZONE", default_value = "UTC")]
    default_time_zone: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every schedule file in DIR; one line per problem, exit 1 if any.
    Validate {
        /// Folder of schedule files (*.json).
        dir: PathBuf,
    },
    /// Run the scheduler against a simulated fleet over a span of time.
    Simulate {
        /// Folder of schedule files.
        #[arg(long)]
        schedules: PathBuf,
        /// Fleet description (JSON).
        #[arg(long)]
        fleet: PathBuf,
        /// First tick, RFC 3339.
        #[arg(long)]
        from: DateTime<chrono::FixedOffset>,
        /// Last possible tick, RFC 3339.
        #[arg(long)]
        to: DateTime<chrono::FixedOffset>,
        /// Time between ticks: 30s, 1m, 5m, 1h.
        #[arg(long, default_value = "5m", value_parser = parse_tick)]
        tick: Duration,
        /// Minutes of warning before a stop.
        #[arg(long, default_value_t = 10)]
        warn_minutes: i64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Makes the tables match the schedule files in DIR; refuses if any is invalid.
    Sync {
        dir: PathBuf,
        /// Print the changes without writing them.
        #[arg(long)]
        dry_run: bool,
        /// Also delete what the tables have and the files do not.
        #[arg(long)]
        prune: bool,
    },
    /// Writes the tables out as schedule files in DIR.
    Export { dir: PathBuf },
    /// Creates the tables (for a local emulator or a first try without the template).
    InitTables,
    /// Per-date exceptions.
    #[command(subcommand)]
    Exception(ExceptionCommand),
    /// Public holidays from an iCalendar (.ics) file or a JSON list of dates: each
    /// becomes a `start None` exception.
    #[command(subcommand)]
    Holidays(HolidaysCommand),
    /// Moves today's stop (in the schedule's zone) to HH:MM.
    Extend {
        schedule: String,
        #[arg(long)]
        until: String,
    },
    /// Starts the schedule now, in dependency order.
    ForceStart { schedule: String },
    /// Stops the schedule now, in reverse dependency order.
    ForceStop { schedule: String },
    /// Groups, instances and states, and today's times.
    Status { schedule: String },
    /// What a run at T would do; changes nothing.
    Plan {
        #[arg(long)]
        at: DateTime<chrono::FixedOffset>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Subcommand)]
enum ExceptionCommand {
    /// Sets the start or stop of SCHEDULE on DATE to HH:MM, or None (not that day).
    Set {
        schedule: String,
        date: chrono::NaiveDate,
        kind: Kind,
        value: String,
    },
    /// Deletes the start or stop exception of SCHEDULE on DATE.
    Del {
        schedule: String,
        date: chrono::NaiveDate,
        kind: Kind,
    },
    /// Lists the exceptions of SCHEDULE, optionally between two dates.
    List {
        schedule: String,
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand)]
enum HolidaysCommand {
    /// Imports FILE's dates into SCHEDULE.
    Import {
        schedule: String,
        file: PathBuf,
        /// Print the dates without writing them.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Start,
    Stop,
}

impl From<Kind> for Direction {
    fn from(k: Kind) -> Direction {
        match k {
            Kind::Start => Direction::Start,
            Kind::Stop => Direction::Stop,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Jsonl,
}

fn parse_tick(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a duration such as 5m"))?;
    let d = match unit {
        "s" => Duration::seconds(n),
        "m" | "" => Duration::minutes(n),
        "h" => Duration::hours(n),
        _ => return Err(format!("\"{text}\": unit must be s, m or h")),
    };
    if d <= Duration::zero() {
        return Err("the tick must be longer than zero".into());
    }
    Ok(d)
}

fn load(dir: &Path, default_tz: chrono_tz::Tz) -> Result<Catalog, String> {
    let items = files::load_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    Ok(items.catalog(default_tz))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { .. } | Command::Simulate { .. } => run(cli),
        _ => remote(cli).await,
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("schedctl: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let default_tz = parse_time_zone(&cli.default_time_zone)?;
    match cli.command {
        Command::Validate { dir } => {
            let catalog = load(&dir, default_tz)?;
            for e in &catalog.errors {
                println!("{e}");
            }
            if catalog.errors.is_empty() {
                println!("{} schedules valid", catalog.schedules.len());
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Simulate {
            schedules,
            fleet,
            from,
            to,
            tick,
            warn_minutes,
            format,
        } => {
            let catalog = load(&schedules, default_tz)?;
            let text = std::fs::read_to_string(&fleet)
                .map_err(|e| format!("cannot read {}: {e}", fleet.display()))?;
            let fleet: FleetFile =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", fleet.display()))?;
            let (from, to) = (from.with_timezone(&Utc), to.with_timezone(&Utc));
            if to < from {
                return Err("--to is before --from".into());
            }
            let settings = Settings {
                warn_before: Duration::minutes(warn_minutes),
                ..Settings::default()
            };
            let report = simulate(catalog, fleet, Span { from, to, tick }, settings);
            match format {
                Format::Jsonl => print!("{}", report.jsonl()),
                Format::Text => print!("{report}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => Err("this command works on the tables; see schedctl --help".into()),
    }
}

/// The commands that work on the tables (and, through the handler, the fleet).
async fn remote(cli: Cli) -> Result<ExitCode, String> {
    use instance_scheduler::cloud::aws::AwsCloud;
    use instance_scheduler::lambda::{config_from_env, handle};
    use instance_scheduler::run::{Runner, SystemClock};
    use instance_scheduler::store::Store;
    use instance_scheduler::store::dynamo::{DynamoStore, Tables};
    use instance_scheduler::store::sync;
    use serde_json::json;

    let json_out = cli.output == Output::Json;
    let mut config = config_from_env()?;
    config.default_tz = parse_time_zone(&cli.default_time_zone)?;
    let sdk = aws_config::load_from_env().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), Tables::from_env());
    let print = |value: serde_json::Value, text: String| {
        if json_out {
            println!("{value}");
        } else {
            print!("{text}");
        }
    };
    match cli.command {
        Command::Validate { .. } | Command::Simulate { .. } => {
            return Err("validate and simulate work on files".into());
        }
        Command::InitTables => {
            store.create_tables().await.map_err(|e| e.to_string())?;
            let t = store.tables();
            print(
                json!({"created": [t.schedules, t.groups, t.exceptions, t.state]}),
                format!(
                    "tables ready: {}, {}, {}, {}\n",
                    t.schedules, t.groups, t.exceptions, t.state
                ),
            );
        }
        Command::Sync {
            dir,
            dry_run,
            prune,
        } => {
            let files =
                files::load_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let catalog = files.catalog(config.default_tz);
            if !catalog.errors.is_empty() {
                for e in &catalog.errors {
                    eprintln!("{e}");
                }
                return Err(format!(
                    "{} problem(s) in {}; nothing was written",
                    catalog.errors.len(),
                    dir.display()
                ));
            }
            let tables = store.load().await.map_err(|e| e.to_string())?;
            let d = sync::diff(&files, &tables, prune);
            if !dry_run && !d.is_empty() {
                store.apply(&d).await.map_err(|e| e.to_string())?;
            }
            print(json!({"dry_run": dry_run, "diff": d}), d.to_string());
        }
        Command::Export { dir } => {
            let tables = store.load().await.map_err(|e| e.to_string())?;
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let mut written = Vec::new();
            for (name, text) in sync::export(&tables) {
                let path = dir.join(&name);
                std::fs::write(&path, text)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                written.push(path.display().to_string());
            }
            for e in &tables.errors {
                eprintln!("{e}");
            }
            print(
                json!({"written": written}),
                format!("wrote {} file(s) to {}\n", written.len(), dir.display()),
            );
        }
        Command::Exception(ExceptionCommand::Set {
            schedule,
            date,
            kind,
            value,
        }) => {
            let time = parse_time(Some(&value), "value")?;
            require_schedule(&store, &schedule).await?;
            store
                .set_exception(&schedule, date, kind.into(), time)
                .await
                .map_err(|e| e.to_string())?;
            let shown = time.map_or("None".to_string(), |t| t.format("%H:%M").to_string());
            let direction = Direction::from(kind);
            print(
                json!({"schedule": schedule, "date": date.to_string(), "type": direction, "value": shown}),
                format!("{schedule} {date} {direction} = {shown}\n"),
            );
        }
        Command::Holidays(HolidaysCommand::Import {
            schedule,
            file,
            dry_run,
        }) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let dates = instance_scheduler::store::holidays::parse(&text)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            require_schedule(&store, &schedule).await?;
            if !dry_run {
                for d in &dates {
                    store
                        .set_exception(&schedule, *d, Direction::Start, None)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            let shown: Vec<String> = dates.iter().map(|d| d.to_string()).collect();
            let verb = if dry_run { "would set" } else { "set" };
            print(
                json!({"schedule": schedule, "dry_run": dry_run, "start_none": shown}),
                shown
                    .iter()
                    .map(|d| format!("{verb} {schedule} {d} start = None\n"))
                    .collect(),
            );
        }
        Command::Exception(ExceptionCommand::Del {
            schedule,
            date,
            kind,
        }) => {
            let direction = Direction::from(kind);
            let d = sync::Diff {
                delete_exceptions: vec![(
                    schedule.clone(),
                    date.to_string(),
                    direction.to_string(),
                )],
                ..sync::Diff::default()
            };
            store.apply(&d).await.map_err(|e| e.to_string())?;
            print(
                json!({"deleted": d.delete_exceptions}),
                format!("{schedule} {date} {direction}: deleted\n"),
            );
        }
        Command::Exception(ExceptionCommand::List { schedule, from, to }) => {
            let tables = store.load().await.map_err(|e| e.to_string())?;
            let mut rows: Vec<_> = tables
                .exceptions
                .iter()
                .filter(|e| e.schedule_name == schedule)
                .filter(|e| {
                    let d =
                        chrono::NaiveDate::parse_from_str(e.exception_date.trim(), "%Y-%m-%d").ok();
                    from.is_none_or(|f| d.is_some_and(|d| d >= f))
                        && to.is_none_or(|t| d.is_some_and(|d| d <= t))
                })
                .collect();
            rows.sort_by(|a, b| {
                (&a.exception_date, &a.exception_type).cmp(&(&b.exception_date, &b.exception_type))
            });
            let text: String = rows
                .iter()
                .map(|e| {
                    format!(
                        "{} {} {}\n",
                        e.exception_date,
                        e.exception_type,
                        e.exception_value.as_deref().unwrap_or("None")
                    )
                })
                .collect();
            print(serde_json::to_value(&rows).unwrap_or_default(), text);
        }
        command => {
            let payload = match command {
                Command::Extend { schedule, until } => {
                    json!({"action":"extend","schedule":schedule,"until":until})
                }
                Command::ForceStart { schedule } => {
                    json!({"action":"force-start","schedule":schedule})
                }
                Command::ForceStop { schedule } => {
                    json!({"action":"force-stop","schedule":schedule})
                }
                Command::Status { schedule } => json!({"action":"status","schedule":schedule}),
                Command::Plan { at } => json!({"action":"plan","at":at}),
                _ => return Err("this command is not handled here".into()),
            };
            if let Some(name) = payload["schedule"].as_str() {
                require_schedule(&store, name).await?;
            }
            let runner = Runner {
                cloud: AwsCloud::new(&sdk),
                store,
                clock: SystemClock,
                config,
                notifier: instance_scheduler::lambda::notifier_from_env(&sdk).await?,
                bot: Default::default(),
            };
            let answer = handle(&runner, payload).await.map_err(|e| e.to_string())?;
            let text = serde_json::to_string_pretty(&answer).unwrap_or_default() + "\n";
            print(answer, text);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn require_schedule(
    store: &instance_scheduler::store::dynamo::DynamoStore,
    name: &str,
) -> Result<(), String> {
    use instance_scheduler::store::Store;
    let items = store.load().await.map_err(|e| e.to_string())?;
    if items.schedules.iter().any(|s| s.schedule_name == name) {
        Ok(())
    } else {
        Err(format!("schedule \"{name}\" does not exist"))
    }
}
