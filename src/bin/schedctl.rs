//! `schedctl`: validate schedule files and simulate them against a fleet.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Duration, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use instance_scheduler::cloud::sim::FleetFile;
use instance_scheduler::plan::Settings;
use instance_scheduler::schedule::{Catalog, parse_time_zone};
use instance_scheduler::simulate::{Span, simulate};
use instance_scheduler::store::files;

#[derive(Parser)]
#[command(
    name = "schedctl",
    version,
    about = "Validate and simulate instance schedules"
)]
struct Cli {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
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
    }
}
