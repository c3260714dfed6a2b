//! `schedctl`: validate and simulate schedule files, and edit the schedules in
//! DynamoDB (table names and endpoint from the same settings as the function;
//! `AWS_ENDPOINT_URL` points it at a local emulator).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::io::Write;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use instance_scheduler::cloud::sim::FleetFile;
use instance_scheduler::config::Config;
use instance_scheduler::fleet::Direction;
use instance_scheduler::run::RunConfig;
use instance_scheduler::schedule::{Catalog, parse_time, parse_time_zone};
use instance_scheduler::simulate::{Span, Wakes, simulate};
use instance_scheduler::store::{Items, files};

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
    /// The deployment to work on: its tables, function and settings from the stack's
    /// outputs; force-start, force-stop and extend are invoked through its function.
    #[arg(long, global = true, env = "SCHEDULER_STACK")]
    stack: Option<String>,
    /// The AWS Region (else AWS_REGION or the profile's).
    #[arg(long, global = true)]
    region: Option<String>,
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
        /// Model a deployment without the state-change event rules.
        #[arg(long)]
        no_events: bool,
        /// Model a deployment without one-time wake-ups.
        #[arg(long)]
        no_wakeups: bool,
        /// Seconds from an instance reaching a state to its event arriving.
        #[arg(long, default_value_t = 5)]
        event_delay: i64,
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
    /// With --check (read-only): what would differ, per schedule, between the original
    /// Python tool and this scheduler on the tables (by default the original's:
    /// Schedule, ScheduleServerGroup, ScheduleException), and the settings that remove
    /// each difference. Exit 1 when anything differs.
    Migrate {
        /// Read and compare; the only mode (migrate changes nothing).
        #[arg(long)]
        check: bool,
    },
    /// What the scheduler holds stopped or at zero (exit 3 when anything); with
    /// --restore (needs --stack), starts each such schedule through the function.
    Held {
        #[arg(long)]
        restore: bool,
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
    /// Imports FILE's dates between --from and --to into SCHEDULE, as local dates in
    /// the schedule's zone (recurring events expanded over that span).
    Import {
        schedule: String,
        file: PathBuf,
        /// First date (default: today).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last date (default: a year after --from).
        #[arg(long)]
        to: Option<NaiveDate>,
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

/// Without --stack, the tables must be named: against AWS itself (no
/// AWS_ENDPOINT_URL), schedctl never falls back to the tables named Schedule, …, which
/// may be another deployment's (or the original tool's, live).
fn explicit_tables() -> Result<(), String> {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    if set("AWS_ENDPOINT_URL") || set("AWS_ENDPOINT_URL_DYNAMODB") {
        return Ok(());
    }
    let missing: Vec<&str> = [
        "SCHEDULE_TABLE",
        "GROUP_TABLE",
        "EXCEPTION_TABLE",
        "STATE_TABLE",
    ]
    .into_iter()
    .filter(|k| !set(k))
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "which deployment? give --stack NAME (or SCHEDULER_STACK), or name its tables with {}: without them schedctl would use the tables named Schedule, ScheduleServerGroup, ScheduleException and ScheduleState, which may be another deployment's",
        missing.join(", ")
    ))
}

fn load(dir: &Path) -> Result<Items, String> {
    files::load_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))
}

fn catalog(dir: &Path, default_tz: chrono_tz::Tz) -> Result<Catalog, String> {
    Ok(load(dir)?.catalog(default_tz))
}

/// Writes `text` to standard output; a reader that went away (`schedctl … | head`)
/// ends the program quietly rather than with a panic.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("schedctl: cannot write: {e}");
        std::process::exit(2);
    }
}

/// Prints an answer for people (its `Display`) or scripts (JSON).
fn show<T: std::fmt::Display + serde::Serialize>(json: bool, value: &T) {
    if json {
        emit(&format!(
            "{}\n",
            serde_json::to_string(value).unwrap_or_default()
        ));
    } else {
        emit(&value.to_string());
    }
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
            let catalog = catalog(&dir, default_tz)?;
            let mut text = String::new();
            for e in catalog.errors.iter().chain(&catalog.warnings) {
                text.push_str(&format!("{e}\n"));
            }
            if catalog.errors.is_empty() {
                text.push_str(&format!("{} schedules valid\n", catalog.schedules.len()));
            }
            emit(&text);
            Ok(if catalog.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Simulate {
            schedules,
            fleet,
            from,
            to,
            tick,
            warn_minutes,
            format,
            no_events,
            no_wakeups,
            event_delay,
        } => {
            let items = load(&schedules)?;
            let text = std::fs::read_to_string(&fleet)
                .map_err(|e| format!("cannot read {}: {e}", fleet.display()))?;
            let fleet: FleetFile =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", fleet.display()))?;
            let (from, to) = (from.with_timezone(&Utc), to.with_timezone(&Utc));
            if to < from {
                return Err("--to is before --from".into());
            }
            let mut config = RunConfig {
                default_tz,
                ..RunConfig::default()
            };
            config.settings.warn_before = Duration::minutes(warn_minutes);
            let wakes = Wakes {
                events: !no_events,
                event_delay: Duration::seconds(event_delay),
                wakeups: !no_wakeups,
            };
            let report = simulate(items, fleet, Span { from, to, tick }, config, wakes);
            match format {
                Format::Jsonl => emit(&report.jsonl()),
                Format::Text => emit(&report.to_string()),
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => Err("this command works on the tables; see schedctl --help".into()),
    }
}

/// The commands that work on the tables (and, for status and the rest, the fleet),
/// through the same typed operations as the function and the bot.
async fn remote(cli: Cli) -> Result<ExitCode, String> {
    use instance_scheduler::clock::{Clock, SystemClock};
    use instance_scheduler::cloud::aws::sdk_config;
    use instance_scheduler::cloud::aws::targets::AwsTargets;
    use instance_scheduler::ops;
    use instance_scheduler::run::Runner;
    use instance_scheduler::store::Store;
    use instance_scheduler::store::dynamo::DynamoStore;
    use instance_scheduler::store::sync;
    use serde_json::json;

    let json_out = cli.output == Output::Json;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = &cli.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    let sdk = sdk_config(loader).await;
    let deployment = match &cli.stack {
        Some(stack) => Some(
            instance_scheduler::stack::Deployment::find(&sdk, stack)
                .await
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let mut config = match &deployment {
        // The deployment's own settings: its tables, zone, tag allow-list, targets.
        Some(d) => d.config()?,
        None => {
            let mut config = Config::from_env()?;
            config.run.default_tz = parse_time_zone(&cli.default_time_zone)?;
            config.absent = instance_scheduler::schedule::absent::Absent {
                zone: Some(config.run.default_tz),
                ..config.absent
            };
            config
        }
    };
    if let Command::Migrate { check } = &cli.command {
        if !check {
            return Err("migrate changes nothing: run schedctl migrate --check".into());
        }
        if deployment.is_none() {
            // Compared with the settings given here, not with schedctl's own default.
            let tz = std::env::var("DEFAULT_TIME_ZONE")
                .ok()
                .filter(|z| !z.trim().is_empty());
            config.absent = Config::from_vars(|k| match k {
                "DEFAULT_TIME_ZONE" => Some(tz.clone().unwrap_or_default()),
                "MISSING_ENABLED" => Some(std::env::var(k).unwrap_or_default()),
                _ => None,
            })?
            .absent;
        }
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        let original = instance_scheduler::migrate::Original::load(&client, &config.tables)
            .await
            .map_err(|e| e.to_string())?;
        let check = instance_scheduler::migrate::check(&original, &config.absent);
        show(json_out, &check);
        return Ok(if check.differs() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    if deployment.is_none() {
        explicit_tables()?;
    }
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.tables.clone())
        .with_absent(config.absent);
    let print = |value: serde_json::Value, text: String| {
        if json_out {
            emit(&format!("{value}\n"));
        } else {
            emit(&text);
        }
    };
    let err = |e: ops::OpError| e.to_string();
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
            return Ok(ExitCode::SUCCESS);
        }
        Command::Sync {
            dir,
            dry_run,
            prune,
        } => {
            let files = load(&dir)?;
            let catalog = files.catalog(config.run.default_tz);
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
            return Ok(ExitCode::SUCCESS);
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
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }

    if let Some(d) = &deployment {
        use instance_scheduler::handoff::Command as Invoke;
        let command = match &cli.command {
            Command::ForceStart { schedule } => Some(Invoke::ForceStart {
                schedule: schedule.clone(),
            }),
            Command::ForceStop { schedule } => Some(Invoke::ForceStop {
                schedule: schedule.clone(),
            }),
            Command::Extend { schedule, until } => Some(Invoke::Extend {
                schedule: schedule.clone(),
                until: until.clone(),
            }),
            _ => None,
        };
        if let Some(command) = command {
            let answer = d.invoke(&sdk, &command).await.map_err(|e| e.to_string())?;
            emit(&if json_out {
                format!("{answer}\n")
            } else {
                format!(
                    "{} answered:\n{}\n",
                    d.function,
                    serde_json::to_string_pretty(&answer).unwrap_or_default()
                )
            });
            return Ok(ExitCode::SUCCESS);
        }
    }
    let own = if config.targets.is_empty() && config.discovery.is_empty() {
        None
    } else {
        aws_sdk_sts::Client::new(&sdk)
            .get_caller_identity()
            .send()
            .await
            .ok()
            .and_then(|who| who.account().map(str::to_string))
    };
    let targets = instance_scheduler::cloud::aws::discovery::targets(
        &sdk,
        &config.discovery,
        config.targets.clone(),
        own.as_deref(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let cloud = AwsTargets::connect(
        &sdk,
        &targets,
        config.external_id.as_deref(),
        own.as_deref(),
    )
    .await;
    let runner = Runner {
        cloud,
        store,
        clock: SystemClock,
        notifier: instance_scheduler::notify::deliver::connect(
            &sdk,
            &config.chat,
            config.function_name.clone(),
        )
        .await,
        config: config.run,
        wakeups: Default::default(),
        shards: Default::default(),
    };
    match cli.command {
        Command::Exception(ExceptionCommand::Set {
            schedule,
            date,
            kind,
            value,
        }) => {
            let time = parse_time(Some(&value), "value")?;
            let change = ops::set_exception(&runner, &schedule, date, kind.into(), time)
                .await
                .map_err(err)?;
            show(json_out, &change);
        }
        Command::Exception(ExceptionCommand::Del {
            schedule,
            date,
            kind,
        }) => {
            let change = ops::delete_exception(&runner, &schedule, date, kind.into())
                .await
                .map_err(err)?;
            show(json_out, &change);
        }
        Command::Exception(ExceptionCommand::List { schedule, from, to }) => {
            let list = ops::exceptions(&runner, &schedule, from, to)
                .await
                .map_err(err)?;
            show(json_out, &list);
        }
        Command::Holidays(HolidaysCommand::Import {
            schedule,
            file,
            from,
            to,
            dry_run,
        }) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let from = from.unwrap_or_else(|| runner.clock.now().date_naive());
            let to = to.unwrap_or_else(|| from + chrono::Months::new(12));
            let import = ops::import_holidays(&runner, &schedule, &text, from, to, dry_run)
                .await
                .map_err(|e| format!("{}: {e}", file.display()))?;
            show(json_out, &import);
        }
        Command::Extend { schedule, until } => {
            let until = parse_time(Some(&until), "--until")?
                .ok_or_else(|| "--until needs a time, HH:MM".to_string())?;
            show(
                json_out,
                &ops::extend(&runner, &schedule, until).await.map_err(err)?,
            );
        }
        Command::ForceStart { schedule } => show(
            json_out,
            &ops::force(&runner, &schedule, Direction::Start)
                .await
                .map_err(err)?,
        ),
        Command::ForceStop { schedule } => show(
            json_out,
            &ops::force(&runner, &schedule, Direction::Stop)
                .await
                .map_err(err)?,
        ),
        Command::Status { schedule } => show(
            json_out,
            &ops::status(&runner, &schedule).await.map_err(err)?,
        ),
        Command::Plan { at } => show(
            json_out,
            &ops::preview(&runner, at.with_timezone(&Utc))
                .await
                .map_err(err)?,
        ),
        Command::Held { restore } => {
            let held = instance_scheduler::stack::held(&runner)
                .await
                .map_err(err)?;
            show(json_out, &held);
            if held.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            if !restore {
                return Ok(ExitCode::from(3));
            }
            let d = deployment
                .as_ref()
                .ok_or("held --restore starts through the function: give --stack NAME")?;
            for s in &held.schedules {
                let command = instance_scheduler::handoff::Command::ForceStart {
                    schedule: s.schedule.clone(),
                };
                d.invoke(&sdk, &command).await.map_err(|e| e.to_string())?;
                emit(&format!(
                    "{}: force-start done through {}\n",
                    s.schedule, d.function
                ));
            }
        }
        _ => return Err("this command is not handled here".into()),
    }
    Ok(ExitCode::SUCCESS)
}
