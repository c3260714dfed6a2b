//! The vocabulary every layer shares: what a resource is, what state it is in, and
//! what the scheduler asks of it. A leaf: it imports nothing of this crate, so the
//! core (schedule, calendar, plan) never reaches an adapter through it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Start or stop: the two things a schedule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Bring servers up, dependencies first.
    Start,
    /// Bring servers down, dependents first.
    Stop,
}

impl Direction {
    /// Both, in the order a schedule's day runs them.
    pub const ALL: [Direction; 2] = [Direction::Start, Direction::Stop];

    /// `start` or `stop`: the word every door and table uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Start => "start",
            Direction::Stop => "stop",
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not `start` or `stop`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not start or stop")]
pub struct NotADirection(pub String);

impl std::str::FromStr for Direction {
    type Err = NotADirection;

    /// `start` or `stop`, in any case, with surrounding spaces, as hand-edited tables
    /// and people write them.
    fn from_str(text: &str) -> Result<Direction, NotADirection> {
        Direction::ALL
            .into_iter()
            .find(|d| text.trim().eq_ignore_ascii_case(d.as_str()))
            .ok_or_else(|| NotADirection(text.to_string()))
    }
}

/// The kind of resource, which decides the API used to act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An EC2 instance.
    Ec2,
    /// An RDS DB instance (not part of an Aurora cluster).
    Rds,
    /// An Aurora DB cluster (or a DocumentDB or Neptune cluster, which the RDS API
    /// serves alike), started and stopped as a whole.
    Aurora,
    /// An Auto Scaling group: stopped by setting its sizes to zero.
    Asg,
    /// An ECS service: stopped by setting its desired count to zero.
    Ecs,
    /// An EKS managed node group: stopped by setting its minimum and desired size to
    /// zero.
    Eks,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::Ec2,
        Kind::Rds,
        Kind::Aurora,
        Kind::Asg,
        Kind::Ecs,
        Kind::Eks,
    ];

    /// Whether it scales to zero rather than stops, and so has sizes to remember.
    pub fn scales(self) -> bool {
        matches!(self, Kind::Asg | Kind::Ecs | Kind::Eks)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Ec2 => "ec2",
            Kind::Rds => "rds",
            Kind::Aurora => "aurora",
            Kind::Asg => "asg",
            Kind::Ecs => "ecs",
            Kind::Eks => "eks",
        })
    }
}

/// The power state of an instance, folded from each service's own states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Power {
    /// Up and usable: EC2 `running`, RDS and Aurora `available`.
    Running,
    /// On its way up (`pending`, `starting`, ...).
    Starting,
    /// On its way down (`stopping`, `shutting-down`, ...).
    Stopping,
    /// Down and startable.
    Stopped,
    /// Up but not to be acted on now (RDS `backing-up`, `modifying`, ...): counts as
    /// ready for dependents, and a stop waits for it to settle.
    Busy,
    /// Gone (terminated, deleted): not part of any group.
    Gone,
    /// In a state the service cannot start or stop it from (RDS `failed`,
    /// `incompatible-parameters`, `inaccessible-encryption-credentials`, ...): still
    /// a member of its group, never up, and reported with the state as its reason.
    Failed,
}

impl Power {
    /// Whether the instance counts as up for the groups that depend on it.
    pub fn is_up(self) -> bool {
        matches!(self, Power::Running | Power::Busy)
    }

    /// Whether anything of the instance is running or on its way up (what a warning
    /// about a coming stop is for).
    pub fn is_live(self) -> bool {
        matches!(self, Power::Running | Power::Starting | Power::Busy)
    }

    /// Every power state.
    pub const ALL: [Power; 7] = [
        Power::Running,
        Power::Starting,
        Power::Stopping,
        Power::Stopped,
        Power::Busy,
        Power::Gone,
        Power::Failed,
    ];

    /// `running`, `starting`, …: the word people and the JSON answers see.
    pub fn as_str(self) -> &'static str {
        match self {
            Power::Running => "running",
            Power::Starting => "starting",
            Power::Stopping => "stopping",
            Power::Stopped => "stopped",
            Power::Busy => "busy",
            Power::Gone => "gone",
            Power::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Power {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not one of the power states.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "\"{0}\" is not a power state (running, starting, stopping, stopped, busy, gone or failed)"
)]
pub struct NotAPower(pub String);

impl std::str::FromStr for Power {
    type Err = NotAPower;

    /// The word [`Power::as_str`] gives, in any case.
    fn from_str(text: &str) -> Result<Power, NotAPower> {
        Power::ALL
            .into_iter()
            .find(|p| text.trim().eq_ignore_ascii_case(p.as_str()))
            .ok_or_else(|| NotAPower(text.to_string()))
    }
}

/// One instance as observed at the start of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// The instance id, DB instance identifier or cluster identifier.
    pub id: String,
    /// Which service it belongs to.
    pub kind: Kind,
    /// Its tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Its power state.
    pub power: Power,
    /// When it entered that state, where the service tells (the simulator does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Availability zone, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Why the service says it is in its state, where it says (EC2's state reason:
    /// `Client.InternalError` for an instance that could not start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a resource that scales rather than stops (Auto Scaling group, ECS
    /// service, EKS node group): its sizes now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    /// The sizes it ran with before the scheduler set it to zero, as kept on the
    /// resource itself (a tag), so they survive a lost state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved: Option<Capacity>,
    /// An EC2 instance configured for hibernation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hibernation: bool,
    /// Its ARN, where the service's API needs it rather than the id (ECS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// What it is billed as (instance type, DB class), where the listing tells: what
    /// the history records and the report prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Size>,
    /// For people only: the place (`account/region`) of a resource in the
    /// function's own account and Region while other targets are scheduled too.
    /// Its id stays plain, so that turning targets on renames nothing the state
    /// and the reported problems already know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
}

/// What a resource is billed as, as its service lists it: the key to its on-demand
/// price. Absent parts are unknown, never guessed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Size {
    /// The EC2 instance type (`m5.large`; an Auto Scaling group's or node group's
    /// instances' type), the RDS DB instance class (`db.t3.medium`), or `fargate` for
    /// an ECS service whose tasks run on Fargate.
    pub class: String,
    /// The RDS engine (`postgres`, `mysql`, `aurora-postgresql`), which prices a class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// An RDS database deployed in two Availability Zones (billed twice).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multi_az: bool,
    /// Storage that keeps billing while the resource is stopped, in GiB (an RDS
    /// database's allocated storage), where the listing tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_gib: Option<u32>,
    /// An ECS service's task definition (`family:revision`), whose vCPU and memory
    /// price a Fargate task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// A Fargate task's CPU units (1,024 a vCPU), from its task definition: read
    /// when a report prices it, never during a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_units: Option<u32>,
    /// A Fargate task's memory in MiB, from its task definition, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u32>,
}

impl Size {
    /// A size that is only a class (an instance type).
    pub fn class(class: impl Into<String>) -> Size {
        Size {
            class: class.into(),
            ..Size::default()
        }
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.class)?;
        if let Some(engine) = &self.engine {
            write!(f, " {engine}")?;
        }
        if self.multi_az {
            f.write_str(" multi-AZ")?;
        }
        if let Some(task) = &self.task {
            write!(f, " {task}")?;
        }
        if let (Some(cpu), Some(memory)) = (self.cpu_units, self.memory_mib) {
            write!(
                f,
                " ({} vCPU, {} GB)",
                f64::from(cpu) / 1024.0,
                f64::from(memory) / 1024.0
            )?;
        }
        Ok(())
    }
}

/// The sizes of a resource that scales: its minimum, desired and maximum count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Capacity {
    /// Minimum.
    pub min: i32,
    /// Desired.
    pub desired: i32,
    /// Maximum.
    pub max: i32,
}

impl Capacity {
    /// All three at zero: what a stop sets.
    pub const ZERO: Capacity = Capacity {
        min: 0,
        desired: 0,
        max: 0,
    };

    /// `min,desired,max`, as kept in a tag.
    pub fn to_tag(self) -> String {
        format!("{},{},{}", self.min, self.desired, self.max)
    }

    /// Reads `min,desired,max` (a tag value); `None` if it is not that.
    pub fn from_tag(text: &str) -> Option<Capacity> {
        let mut parts = text.split(',').map(|p| p.trim().parse::<i32>().ok());
        let (min, desired, max) = (parts.next()??, parts.next()??, parts.next()??);
        let ok = parts.next().is_none() && 0 <= min && min <= desired && desired <= max;
        ok.then_some(Capacity { min, desired, max })
    }
}

impl Instance {
    /// An instance with nothing known beyond its id, kind, tags and power.
    pub fn new(
        id: impl Into<String>,
        kind: Kind,
        tags: BTreeMap<String, String>,
        power: Power,
    ) -> Instance {
        Instance {
            id: id.into(),
            kind,
            tags,
            power,
            since: None,
            zone: None,
            reason: None,
            capacity: None,
            saved: None,
            hibernation: false,
            arn: None,
            size: None,
            home: None,
        }
    }

    /// The `Name` tag, or the id.
    pub fn name(&self) -> &str {
        self.tags.get("Name").map_or(&self.id, String::as_str)
    }

    /// The account and Region it lives in (`account/region`), as its id carries it
    /// (`id@account/region`); empty for the function's own.
    pub fn place(&self) -> &str {
        self.id.rsplit_once('@').map_or("", |(_, place)| place)
    }

    /// The id as people see it: with its place wherever there is more than one.
    pub fn shown_id(&self) -> String {
        match &self.home {
            Some(home) => format!("{}@{home}", self.id),
            None => self.id.clone(),
        }
    }

    /// `name (id)`, or the id alone when it has no other name: how people see it.
    pub fn label(&self) -> String {
        if self.name() == self.id {
            self.shown_id()
        } else {
            format!("{} ({})", self.name(), self.shown_id())
        }
    }

    /// The code of the service's reason for its state (EC2's state reason
    /// `Client.InternalError: …` gives `Client.InternalError`), where it gave one: what
    /// a rule about a reason matches, never the reason's wording.
    pub fn reason_code(&self) -> Option<&str> {
        self.reason
            .as_deref()
            .map(leading_code)
            .filter(|c| !c.is_empty())
    }

    /// What an action on this instance needs (sizes and hibernation are the
    /// planner's to fill in).
    pub fn target(&self) -> Target {
        Target {
            id: self.id.clone(),
            kind: self.kind,
            arn: self.arn.clone(),
            capacity: None,
            hibernate: false,
        }
    }
}

/// An instance to act on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Target {
    /// Its id.
    pub id: String,
    /// Its kind, which picks the API.
    pub kind: Kind,
    /// Its ARN, where the API needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// For a resource that scales: on a start, the sizes to restore; on a stop,
    /// the sizes it has, to remember on the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    /// Hibernate this EC2 instance rather than stop it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hibernate: bool,
}

/// The error code at the head of a service's error text: the text up to its first
/// `:` when that is one word (`Client.InternalError: Client error on launch`,
/// `IncorrectInstanceState: …`), as the AWS adapter writes errors; empty when the
/// text starts with no code.
fn leading_code(text: &str) -> &str {
    let head = text.split_once(':').map_or(text, |(head, _)| head).trim();
    if head.is_empty() || head.contains(char::is_whitespace) {
        ""
    } else {
        head
    }
}

/// An instance the cloud would not start or stop, and why (with the service's error
/// code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The instance.
    pub id: String,
    /// The service's error code and message.
    pub error: String,
}

impl Failure {
    /// The service's error code (`InsufficientInstanceCapacity`,
    /// `Client.InternalError`, `KMS.DisabledException`): the error text's first word up
    /// to `:`, as the AWS adapter writes it ("Code: message"); empty when the service
    /// gave none. Rules about failures match this, never the message's wording.
    pub fn code(&self) -> &str {
        leading_code(&self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_and_powers_read_back_what_they_print() {
        for d in Direction::ALL {
            assert_eq!(d.to_string().parse::<Direction>(), Ok(d));
        }
        assert_eq!(" STOP ".parse::<Direction>(), Ok(Direction::Stop));
        assert_eq!(
            "reboot".parse::<Direction>().unwrap_err().to_string(),
            "\"reboot\" is not start or stop"
        );
        for p in Power::ALL {
            assert_eq!(p.to_string().parse::<Power>(), Ok(p));
            // The word printed is the word in the JSON answers.
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::Value::from(p.to_string())
            );
        }
        assert!("up".parse::<Power>().is_err());
    }

    #[test]
    fn a_failures_code_is_the_first_word_before_the_colon() {
        let failure = |error: &str| Failure {
            id: "i-1".into(),
            error: error.into(),
        };
        assert_eq!(
            failure("InsufficientInstanceCapacity: no capacity in ap-northeast-2a").code(),
            "InsufficientInstanceCapacity"
        );
        assert_eq!(
            failure("Client.InternalError").code(),
            "Client.InternalError"
        );
        // A message without a code (a transport error) has none, whatever it says.
        assert_eq!(failure("dispatch failure: connection refused").code(), "");
        assert_eq!(failure("").code(), "");
        let mut i = Instance::new("i-1", Kind::Ec2, BTreeMap::new(), Power::Stopped);
        assert_eq!(i.reason_code(), None);
        i.reason = Some("Client.InternalError: Client error on launch".into());
        assert_eq!(i.reason_code(), Some("Client.InternalError"));
    }
}
