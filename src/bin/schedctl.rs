//! `schedctl`: validate and simulate schedule files, keep the DynamoDB tables in line
//! with them, and ask the scheduler what every other door asks (table names and
//! endpoint from the same settings as the function; `AWS_ENDPOINT_URL` points it at
//! a local emulator).
//!
//! The commands that ask the scheduler are a parser into
//! [`instance_scheduler::ops::Request`], applied by [`ops::apply`] and printed as
//! text or JSON, as the function and the bot answer the same request. `validate`
//! and `simulate` work on files, and `init-tables`, `sync` and `export` on the
//! tables themselves.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use instance_scheduler::clock::SystemClock;
use instance_scheduler::cloud::aws::sdk_config;
use instance_scheduler::cloud::aws::targets::AwsTargets;
use instance_scheduler::config::Config;
use instance_scheduler::fleet::Direction;
use instance_scheduler::invocation::Command as Invoke;
use instance_scheduler::ops::{self, Day, Request};
use instance_scheduler::pricing::{PriceBook, PriceList};
use instance_scheduler::report::{html, svg};
use instance_scheduler::run::{RunConfig, Runner, Shards};
use instance_scheduler::schedule::absent::Absent;
use instance_scheduler::schedule::{Catalog, parse_time, parse_time_zone};
use instance_scheduler::simulate::{
    Span, Wakes, read_fleet, simulate_with_report, simulate_with_windows,
};
use instance_scheduler::store::dynamo::DynamoStore;
use instance_scheduler::store::{Items, Store, files, sync};
use instance_scheduler::wakeup::Wakeups;
use instance_scheduler::{migrate, stack};
use serde_json::json;

/// mimalloc rather than glibc's allocator: a pass allocates and frees many small
/// strings and maps, and malloc and free were a fifth of its CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// What ran and what it cost or saved, per schedule, group and resource, from the
    /// deployment's history table: hours against always-on and the schedule alone,
    /// money, overrides, chain timings, failures. `--output text|json|html`.
    Report(ReportArgs),
    /// Where else to save: 14 days of CloudWatch metrics of the Region's EC2
    /// instances and RDS databases, tagged or not, and a schedule for each one idle
    /// outside a daily pattern, with its monthly saving and the commands that would
    /// apply it. Changes nothing.
    Suggest {
        /// The zone of the proposed times (default: --default-time-zone).
        #[arg(long)]
        time_zone: Option<String>,
    },
    /// Run the scheduler against a simulated fleet over a span of time.
    Simulate(SimulateArgs),
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
    #[command(flatten)]
    Ask(Ask),
}

/// The commands that ask the scheduler what the function and the bot are asked:
/// each is an [`ops::Request`].
#[derive(Subcommand)]
enum Ask {
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
    /// The schedule's start and stop on a date (default: today in its zone).
    Info {
        schedule: String,
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// What a run at T would do; changes nothing.
    Plan {
        #[arg(long)]
        at: DateTime<FixedOffset>,
    },
}

#[derive(Args)]
struct SimulateArgs {
    /// Folder of schedule files.
    #[arg(long)]
    schedules: PathBuf,
    /// Fleet description (JSON).
    #[arg(long)]
    fleet: PathBuf,
    /// First tick, RFC 3339.
    #[arg(long)]
    from: DateTime<FixedOffset>,
    /// Last possible tick, RFC 3339.
    #[arg(long)]
    to: DateTime<FixedOffset>,
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
    /// Also print the report of the simulated span: hours, money, overrides, chain
    /// timings (as `schedctl report` gives for a real one).
    #[arg(long)]
    report: bool,
    /// Also draw the simulated span as an SVG Gantt chart into FILE.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// One row per resource in the picture, rather than per group.
    #[arg(long)]
    resources: bool,
    /// Hourly prices to assume, by instance type or DB class: a JSON object such as
    /// {"m5.large": 0.096} (SchedulerHourlyCost tags in the fleet file win).
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
    /// One self-contained HTML file (`report`; other commands print text).
    Html,
}

/// `schedctl report`'s arguments.
#[derive(Args)]
struct ReportArgs {
    /// One schedule only.
    #[arg(long)]
    schedule: Option<String>,
    /// First day (YYYY-MM-DD, midnight in the schedule's zone, or the default zone
    /// for several) or an RFC 3339 instant; default: seven days before --to.
    #[arg(long)]
    from: Option<String>,
    /// The day after the last (YYYY-MM-DD) or an RFC 3339 instant; default: now.
    #[arg(long)]
    to: Option<String>,
    /// Also draw the period as an SVG Gantt chart into FILE.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// One row per resource in the pictures, rather than per group.
    #[arg(long)]
    resources: bool,
}

#[derive(Subcommand)]
enum ExceptionCommand {
    /// Sets the start or stop of SCHEDULE on DATE to HH:MM, or None (not that day).
    Set {
        schedule: String,
        date: NaiveDate,
        #[arg(value_name = "start|stop")]
        kind: Direction,
        value: String,
    },
    /// Deletes the start or stop exception of SCHEDULE on DATE.
    Del {
        schedule: String,
        date: NaiveDate,
        #[arg(value_name = "start|stop")]
        kind: Direction,
    },
    /// Lists the exceptions of SCHEDULE, optionally between two dates.
    List {
        schedule: String,
        #[arg(long)]
        from: Option<NaiveDate>,
        #[arg(long)]
        to: Option<NaiveDate>,
    },
}

#[derive(Subcommand)]
enum HolidaysCommand {
    /// Imports FILE's dates between --from and --to into SCHEDULE, as local dates in
    /// the schedule's zone (recurring events expanded over that span).
    Import {
        schedule: String,
        file: PathBuf,
        /// First date (default: today in the schedule's zone).
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

/// An instant from `YYYY-MM-DD` (midnight in `tz`) or RFC 3339.
fn instant(text: &str, tz: chrono_tz::Tz, flag: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{flag} {text:?} is not a date YYYY-MM-DD or an RFC 3339 instant"))?;
    Ok(instance_scheduler::calendar::local_instant(
        tz,
        date,
        NaiveTime::MIN,
    ))
}

/// A time of day that must be given (`HH:MM`, not `None`).
fn required_time(text: &str, field: &str) -> Result<NaiveTime, String> {
    parse_time(Some(text), field)?.ok_or_else(|| format!("{field} needs a time, HH:MM"))
}

impl Ask {
    /// The parser into the one vocabulary: the request this command makes.
    fn request(self) -> Result<Request, String> {
        Ok(match self {
            Ask::Exception(ExceptionCommand::Set {
                schedule,
                date,
                kind,
                value,
            }) => Request::SetException {
                schedule,
                date,
                direction: kind,
                value: parse_time(Some(&value), "value")?,
            },
            Ask::Exception(ExceptionCommand::Del {
                schedule,
                date,
                kind,
            }) => Request::DeleteException {
                schedule,
                date,
                direction: kind,
            },
            Ask::Exception(ExceptionCommand::List { schedule, from, to }) => Request::Exceptions {
                schedule,
                from: from.map(Day::On),
                to,
            },
            Ask::Holidays(HolidaysCommand::Import {
                schedule,
                file,
                from,
                to,
                dry_run,
            }) => Request::ImportHolidays {
                schedule,
                calendar: std::fs::read_to_string(&file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?,
                from: from.into(),
                to,
                dry_run,
            },
            Ask::Extend { schedule, until } => Request::Extend {
                schedule,
                until: required_time(&until, "--until")?,
            },
            Ask::ForceStart { schedule } => Request::Force {
                schedule,
                direction: Direction::Start,
            },
            Ask::ForceStop { schedule } => Request::Force {
                schedule,
                direction: Direction::Stop,
            },
            Ask::Status { schedule } => Request::Status { schedule },
            Ask::Info { schedule, date } => Request::DayTimes {
                schedule,
                day: date.into(),
            },
            Ask::Plan { at } => Request::Preview(at.with_timezone(&Utc)),
        })
    }
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
    // What report and suggest only log (a price they could not fetch) reaches the
    // operator on standard error; the other commands answer for themselves, and
    // RUST_LOG shows more.
    let quiet = "off,instance_scheduler::pricing=warn,instance_scheduler::report=warn,instance_scheduler::suggest=warn";
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| quiet.into()),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("schedctl: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let json_out = cli.output == Output::Json;
    let default_tz = parse_time_zone(&cli.default_time_zone)?;
    match cli.command {
        Command::Validate { dir } => return validate(&dir, default_tz),
        Command::Simulate(args) => return simulated(args, default_tz),
        _ => {}
    }
    let at = Deployment::find(&cli, default_tz).await?;
    match cli.command {
        Command::Validate { .. } | Command::Simulate(_) => {
            Err("validate and simulate work on files".into())
        }
        Command::Migrate { check } => at.migrate(check, json_out).await,
        Command::Ask(command) => at.ask(command.request()?, json_out).await,
        Command::Held { restore } => at.held(restore, json_out).await,
        Command::Report(args) => at.report(args, cli.output).await,
        Command::Suggest { time_zone } => {
            let tz = match time_zone {
                Some(z) => parse_time_zone(&z)?,
                None => default_tz,
            };
            let found = instance_scheduler::suggest::suggest(
                &instance_scheduler::suggest::Sources::new(&at.sdk),
                &PriceList::new(&at.sdk),
                Utc::now(),
                tz,
            )
            .await
            .map_err(|e| e.to_string())?;
            show(json_out, &found);
            Ok(ExitCode::SUCCESS)
        }
        Command::InitTables => {
            let store = at.tables()?;
            store.create_tables().await.map_err(|e| e.to_string())?;
            let t = store.tables();
            let names = [&t.schedules, &t.groups, &t.exceptions, &t.state];
            print(
                json_out,
                json!({ "created": names }),
                format!(
                    "tables ready: {}, {}, {}, {}\n",
                    names[0], names[1], names[2], names[3]
                ),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync {
            dir,
            dry_run,
            prune,
        } => {
            let store = at.tables()?;
            let files = load(&dir)?;
            let catalog = files.catalog(at.config.run.default_tz);
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
            print(
                json_out,
                json!({"dry_run": dry_run, "diff": d}),
                d.to_string(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { dir } => {
            let store = at.tables()?;
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
                json_out,
                json!({"written": written}),
                format!("wrote {} file(s) to {}\n", written.len(), dir.display()),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints `value` for scripts, or `text` for people.
fn print(json_out: bool, value: serde_json::Value, text: String) {
    if json_out {
        emit(&format!("{value}\n"));
    } else {
        emit(&text);
    }
}

/// The deployment schedctl works on: the one `--stack` names (its tables and its
/// function's settings), or the one the environment describes.
struct Deployment {
    sdk: aws_config::SdkConfig,
    stack: Option<stack::Deployment>,
    config: Config,
}

impl Deployment {
    async fn find(cli: &Cli, default_tz: chrono_tz::Tz) -> Result<Deployment, String> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &cli.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        let sdk = sdk_config(loader).await;
        let stack = match &cli.stack {
            Some(name) => Some(
                stack::Deployment::find(&sdk, name)
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        let config = match &stack {
            // The deployment's own settings: its tables, zone, tag allow-list, targets.
            Some(d) => d.config()?,
            None => {
                let mut config = Config::from_env().map_err(|e| e.to_string())?;
                config.run.default_tz = default_tz;
                config.absent = Absent {
                    zone: Some(default_tz),
                    ..config.absent
                };
                config
            }
        };
        Ok(Deployment { sdk, stack, config })
    }

    /// `schedctl report`: the deployment's history, priced, for people or scripts.
    async fn report(&self, args: ReportArgs, output: Output) -> Result<ExitCode, String> {
        let Some(history) = &self.config.history else {
            return Err("this deployment keeps no history: deploy the stack with its history table, or name one with HISTORY_TABLE".into());
        };
        let store = self.tables()?.with_history(history.clone());
        let mut catalog = store
            .load_catalog(self.config.run.default_tz)
            .await
            .map_err(|e| e.to_string())?;
        let mut tz = self.config.run.default_tz;
        if let Some(name) = &args.schedule {
            let Some(s) = catalog.get(name).cloned() else {
                return Err(format!("no schedule named {name}"));
            };
            tz = s.tz;
            catalog.schedules = vec![s];
        }
        let now = Utc::now();
        let to = match &args.to {
            Some(t) => instant(t, tz, "--to")?,
            None => now,
        };
        let from = match &args.from {
            Some(f) => instant(f, tz, "--from")?,
            None => to - Duration::days(7),
        };
        if to <= from {
            return Err("--to must be after --from".into());
        }
        let home = self.sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let list = PriceList::new(&self.sdk);
        // The report asks the fleet what the history does not keep: Fargate tasks'
        // sizes and EC2 instances' EBS volumes (report time only, never in a run).
        let fleet = AwsTargets::own(&self.sdk);
        let r = instance_scheduler::report::from_store_with(
            &store,
            &catalog,
            instance_scheduler::report::Window {
                from,
                to,
                home: &home,
                now,
            },
            Some(&list),
            &fleet,
        )
        .await
        .map_err(|e| e.to_string())?;
        let rows = if args.resources {
            svg::Rows::Resources
        } else {
            svg::Rows::Groups
        };
        if let Some(file) = &args.svg {
            std::fs::write(file, svg::render(&r, rows))
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        }
        match output {
            Output::Text => emit(&r.to_string()),
            Output::Json => emit(&format!(
                "{}\n",
                serde_json::to_string(&r).unwrap_or_default()
            )),
            Output::Html => emit(&html::render_html(&r, rows)),
        }
        Ok(ExitCode::SUCCESS)
    }

    /// The tables alone, for the commands that edit them as tables.
    fn tables(&self) -> Result<DynamoStore, String> {
        if self.stack.is_none() {
            explicit_tables()?;
        }
        Ok(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            self.config.tables.clone(),
        )
        .with_absent(self.config.absent))
    }

    /// The runner the function would be, on the system clock; it sets no wake-ups
    /// and starts no shards of its own.
    async fn runner(&self) -> Result<Runner<AwsTargets, DynamoStore, SystemClock>, String> {
        if self.stack.is_none() {
            explicit_tables()?;
        }
        let mut runner = Runner::connect(&self.sdk, &self.config, SystemClock)
            .await
            .map_err(|e| e.to_string())?;
        runner.wakeups = Wakeups::Off;
        runner.shards = Shards::default();
        Ok(runner)
    }

    /// Applies `request` as the function and the bot do, and prints the answer. With
    /// `--stack`, what starts or stops (force-start, force-stop, extend) is invoked
    /// through the deployment's function, as the bot hands it off.
    async fn ask(&self, request: Request, json_out: bool) -> Result<ExitCode, String> {
        let through = matches!(request, Request::Force { .. } | Request::Extend { .. });
        if let (Some(d), Some(command), true) = (&self.stack, request.command(), through) {
            let answer = d
                .invoke(&self.sdk, &command)
                .await
                .map_err(|e| e.to_string())?;
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
        let runner = self.runner().await?;
        let answer = ops::apply(&runner, request)
            .await
            .map_err(|e| e.to_string())?;
        show(json_out, &answer);
        Ok(ExitCode::SUCCESS)
    }

    /// `migrate --check`: the original tool's tables compared with this scheduler's
    /// reading of them.
    async fn migrate(&self, check: bool, json_out: bool) -> Result<ExitCode, String> {
        if !check {
            return Err("migrate changes nothing: run schedctl migrate --check".into());
        }
        let mut absent = self.config.absent;
        if self.stack.is_none() {
            // Compared with the settings given here, not with schedctl's own default.
            let tz = std::env::var("DEFAULT_TIME_ZONE")
                .ok()
                .filter(|z| !z.trim().is_empty());
            absent = Config::from_vars(|k| match k {
                "DEFAULT_TIME_ZONE" => Some(tz.clone().unwrap_or_default()),
                "MISSING_ENABLED" => Some(std::env::var(k).unwrap_or_default()),
                _ => None,
            })
            .map_err(|e| e.to_string())?
            .absent;
        }
        let client = aws_sdk_dynamodb::Client::new(&self.sdk);
        let original = migrate::Original::load(&client, &self.config.tables)
            .await
            .map_err(|e| e.to_string())?;
        let check = migrate::check(&original, &absent);
        show(json_out, &check);
        Ok(if check.differs() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }

    /// `held`: what the scheduler holds stopped or at zero; with `restore`, each such
    /// schedule started through the function.
    async fn held(&self, restore: bool, json_out: bool) -> Result<ExitCode, String> {
        let runner = self.runner().await?;
        let held = stack::held(&runner).await.map_err(|e| e.to_string())?;
        show(json_out, &held);
        if held.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        if !restore {
            return Ok(ExitCode::from(3));
        }
        let d = self
            .stack
            .as_ref()
            .ok_or("held --restore starts through the function: give --stack NAME")?;
        for s in &held.schedules {
            let command = Invoke::ForceStart {
                schedule: s.schedule.clone(),
            };
            d.invoke(&self.sdk, &command)
                .await
                .map_err(|e| e.to_string())?;
            emit(&format!(
                "{}: force-start done through {}\n",
                s.schedule, d.function
            ));
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn validate(dir: &Path, default_tz: chrono_tz::Tz) -> Result<ExitCode, String> {
    let catalog = catalog(dir, default_tz)?;
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

fn simulated(args: SimulateArgs, default_tz: chrono_tz::Tz) -> Result<ExitCode, String> {
    let items = load(&args.schedules)?;
    let text = std::fs::read_to_string(&args.fleet)
        .map_err(|e| format!("cannot read {}: {e}", args.fleet.display()))?;
    let (fleet, windows) =
        read_fleet(&text).map_err(|e| format!("{}: {e}", args.fleet.display()))?;
    let (from, to) = (args.from.with_timezone(&Utc), args.to.with_timezone(&Utc));
    if to < from {
        return Err("--to is before --from".into());
    }
    let mut config = RunConfig {
        default_tz,
        ..RunConfig::default()
    };
    config.settings.warn_before = Duration::minutes(args.warn_minutes);
    let wakes = Wakes {
        events: !args.no_events,
        event_delay: Duration::seconds(args.event_delay),
        wakeups: !args.no_wakeups,
    };
    let span = Span {
        from,
        to,
        tick: args.tick,
    };
    if !args.report && args.svg.is_none() {
        let report = simulate_with_windows(items, fleet, windows, span, config, wakes);
        match args.format {
            Format::Jsonl => emit(&report.jsonl()),
            Format::Text => emit(&report.to_string()),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let prices = match &args.prices {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            PriceBook::flat(serde_json::from_str(&text).map_err(|e| {
                format!(
                    "{}: not an object of hourly prices by class: {e}",
                    file.display()
                )
            })?)
        }
        None => PriceBook::default(),
    };
    let (report, money) = simulate_with_report(items, fleet, windows, span, config, wakes, &prices);
    match args.format {
        Format::Jsonl => emit(&report.jsonl()),
        Format::Text => emit(&report.to_string()),
    }
    if args.report {
        match args.format {
            Format::Jsonl => emit(&format!(
                "{}\n",
                serde_json::to_string(&money).unwrap_or_default()
            )),
            Format::Text => emit(&format!("\n{money}")),
        }
    }
    if let Some(file) = &args.svg {
        let rows = if args.resources {
            svg::Rows::Resources
        } else {
            svg::Rows::Groups
        };
        std::fs::write(file, svg::render(&money, rows))
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
