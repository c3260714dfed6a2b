//! The tags that put a resource into a schedule or keep it out, and the tag values a
//! deployment may act on.

use std::collections::BTreeMap;

use crate::fleet::{Instance, Kind};

/// Tag key that puts an instance into a schedule (value: the schedule's `TagValue`).
pub const SCHEDULE_TAG: &str = "ScheduleName";
/// Tag key that puts an instance into a server group (value: the group's name).
pub const GROUP_TAG: &str = "ScheduleGroupName";
/// Tag key that keeps a resource out of every schedule when its value is `true`
/// (any case): the scheduler refuses it and reports it, and the IAM policy denies
/// acting on it.
pub const PROTECTION_TAG: &str = "SchedulerProtected";

/// Whether a resource with these tags is protected by [`PROTECTION_TAG`]: its key in
/// any case (`schedulerprotected`), as IAM's condition keys read it, and the value
/// `true` in any case.
pub fn protected(tags: &BTreeMap<String, String>) -> bool {
    tags.iter().any(|(k, v)| {
        k.trim().eq_ignore_ascii_case(PROTECTION_TAG) && v.trim().eq_ignore_ascii_case("true")
    })
}

/// Whether `i` is never a member of any group, whatever its tags name: protected,
/// or an instance an Auto Scaling group would replace.
pub fn never_scheduled(i: &Instance) -> bool {
    protected(&i.tags) || auto_scaled(i).is_some()
}

/// The Auto Scaling group an EC2 instance belongs to, by the tag AWS puts on it.
pub fn auto_scaled(i: &Instance) -> Option<&str> {
    if i.kind != Kind::Ec2 {
        return None;
    }
    i.tags.get("aws:autoscaling:groupName").map(String::as_str)
}

/// The `ScheduleName` tag values a deployment may act on: values, or patterns with
/// `*` (any run of characters) and `?` (one character), as IAM's `StringLike` reads
/// them. The same list goes into the IAM condition and here, so the planner refuses
/// what IAM would refuse, and says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPatterns(Vec<String>);

impl Default for TagPatterns {
    fn default() -> Self {
        TagPatterns(vec!["*".into()])
    }
}

impl TagPatterns {
    /// Comma-separated patterns.
    pub fn parse(text: &str) -> Result<TagPatterns, String> {
        let list: Vec<String> = text
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        if list.is_empty() {
            return Err("no tag value or pattern given (\"*\" allows every value)".into());
        }
        Ok(TagPatterns(list))
    }

    /// Whether every value is allowed (`*`, the default): nothing to ask per schedule.
    pub fn allows_all(&self) -> bool {
        self.0.iter().any(|p| p == "*")
    }

    /// Whether a resource tagged `value` may be acted on.
    pub fn allows(&self, value: &str) -> bool {
        self.0.iter().any(|p| glob(p.as_bytes(), value.as_bytes()))
    }
}

impl std::fmt::Display for TagPatterns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// `*` and `?` matching, iteratively with one backtrack point (linear in practice).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}
