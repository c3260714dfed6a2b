//! Who asked for a force-start or -stop: the note a door leaves beside the run state
//! before it hands the force to the scheduler, so that the history can name the
//! chat bot's forces (cause `bot`) while the hand-off's payload stays the one every
//! door sends.
//!
//! The note is one line, `INSTANT DIRECTION BY [USER]`, for example
//! `2026-11-30T12:00:00.000Z start bot kim@example.com`. The instant comes first, in
//! UTC with a fixed width, so that a later note sorts after an earlier one: the store
//! writes a note only over an older one.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, SecondsFormat, Utc};

use super::{Cause, Seen};
use crate::fleet::Direction;
use crate::plan::Sequence;

/// How many minutes before a forced sequence began its note may have been written
/// and still name it. The bot writes the note just before it hands the force over,
/// and the asynchronous invocation that begins the sequence may wait in Lambda's
/// queue; a note older than this belongs to an earlier force.
pub const ORIGIN_MINUTES: i64 = 15;

/// A note of who asked for a force: when, which way, through which door, by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// When the note was written, just before the force was handed over.
    pub at: DateTime<Utc>,
    /// Force-start or force-stop.
    pub direction: Direction,
    /// The door that asked: [`Origin::BOT`] for the chat bot.
    pub by: String,
    /// Who asked there (a Slack user id, a JANDI address); empty when the chat gave
    /// none.
    pub user: String,
}

/// A note that does not read as an [`Origin`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("origin note \"{0}\" is not \"INSTANT start|stop BY [USER]\"")]
pub struct NotAnOrigin(pub String);

impl Origin {
    /// The door name of the chat bot.
    pub const BOT: &'static str = "bot";

    /// The chat bot's note of a force asked by `user` at `at`.
    pub fn bot(at: DateTime<Utc>, direction: Direction, user: impl Into<String>) -> Origin {
        Origin {
            at,
            direction,
            by: Origin::BOT.to_string(),
            user: user.into(),
        }
    }

    /// The cause of the changes of sequence `q` when this note names it, `None` when
    /// it does not: `q` was forced in the note's direction, and began at or after the
    /// note, no more than [`ORIGIN_MINUTES`] after. Every change of one sequence
    /// gets the same answer, however many runs its chain takes, since the sequence
    /// keeps when it began.
    ///
    /// A note names only the first force after it: when `seen` (what the history
    /// knows of the schedule's resources) holds a change by a force that began
    /// after the note and before `q`, an operator's force-start soon after the bot's
    /// is the operator's.
    pub fn cause_of<'a>(
        &self,
        q: &Sequence,
        seen: impl IntoIterator<Item = &'a Seen>,
    ) -> Option<Cause> {
        let names = q.forced
            && q.direction == self.direction
            && self.at <= q.began
            && q.began - self.at <= Duration::minutes(ORIGIN_MINUTES)
            && !seen.into_iter().any(|s| {
                matches!(s.cause, Cause::Forced | Cause::Bot)
                    && s.began.is_some_and(|b| self.at <= b && b < q.began)
            });
        match self.by.as_str() {
            Origin::BOT if names => Some(Cause::Bot),
            _ => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            self.direction,
            self.by
        )?;
        if !self.user.is_empty() {
            write!(f, " {}", self.user)?;
        }
        Ok(())
    }
}

impl FromStr for Origin {
    type Err = NotAnOrigin;

    /// Reads a note as [`Origin`]'s `Display` writes it; the user is the rest of the
    /// line, spaces and all.
    fn from_str(text: &str) -> Result<Origin, NotAnOrigin> {
        let wrong = || NotAnOrigin(text.to_string());
        let mut words = text.splitn(4, ' ');
        let at = words
            .next()
            .and_then(|w| DateTime::parse_from_rfc3339(w).ok())
            .ok_or_else(wrong)?
            .to_utc();
        let direction = words
            .next()
            .and_then(|w| w.parse::<Direction>().ok())
            .ok_or_else(wrong)?;
        let by = words.next().filter(|w| !w.is_empty()).ok_or_else(wrong)?;
        Ok(Origin {
            at,
            direction,
            by: by.to_string(),
            user: words.next().unwrap_or_default().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::fleet::Kind;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn forced(direction: Direction, began: &str) -> Sequence {
        Sequence {
            direction,
            began: at(began),
            forced: true,
            acted: BTreeMap::new(),
            done: BTreeSet::new(),
            failed: BTreeSet::new(),
            refused: BTreeSet::new(),
            settled_at: None,
            ready_by: None,
        }
    }

    #[test]
    fn a_note_reads_back_as_written_and_later_notes_sort_after() {
        let note = Origin::bot(
            at("2026-11-30T12:00:00Z"),
            Direction::Start,
            "kim@example.com",
        );
        let text = note.to_string();
        assert_eq!(text, "2026-11-30T12:00:00.000Z start bot kim@example.com");
        assert_eq!(text.parse::<Origin>(), Ok(note.clone()));
        // Without a user, and with one that has spaces.
        for user in ["", "Kim Lee"] {
            let n = Origin::bot(note.at, Direction::Stop, user);
            assert_eq!(n.to_string().parse::<Origin>(), Ok(n));
        }
        // A second later, whichever way: after it, so the store writes it over.
        let later = Origin::bot(note.at + Duration::seconds(1), Direction::Start, "a");
        assert!(later.to_string() > text);
        let later = Origin::bot(note.at + Duration::milliseconds(5), Direction::Start, "a");
        assert!(later.to_string() > text);
    }

    #[test]
    fn a_note_that_does_not_read_is_an_error() {
        for text in [
            "",
            "yesterday start bot kim",
            "2026-11-30T12:00:00Z reboot bot kim",
            "2026-11-30T12:00:00Z start",
            "2026-11-30T12:00:00Z start ",
        ] {
            assert_eq!(
                text.parse::<Origin>(),
                Err(NotAnOrigin(text.to_string())),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_note_names_a_forced_sequence_of_its_direction_begun_within_15_minutes_after_it() {
        let note = Origin::bot(at("2026-11-30T12:00:00Z"), Direction::Start, "kim");
        let start = |began| forced(Direction::Start, began);
        let cause = |q: &Sequence| note.cause_of(q, []);
        assert_eq!(cause(&start("2026-11-30T12:00:00Z")), Some(Cause::Bot));
        assert_eq!(cause(&start("2026-11-30T12:15:00Z")), Some(Cause::Bot));
        assert_eq!(cause(&start("2026-11-30T12:15:01Z")), None);
        // A sequence that began before the note is not the note's.
        assert_eq!(cause(&start("2026-11-30T11:59:59Z")), None);
        assert_eq!(
            cause(&forced(Direction::Stop, "2026-11-30T12:00:00Z")),
            None
        );
        let mut scheduled = start("2026-11-30T12:00:00Z");
        scheduled.forced = false;
        assert_eq!(cause(&scheduled), None);
        // Another door's note names no cause of its own.
        let other = Origin {
            by: "cli".into(),
            ..note.clone()
        };
        assert_eq!(other.cause_of(&start("2026-11-30T12:00:00Z"), []), None);
    }

    #[test]
    fn a_note_names_only_the_first_force_after_it() {
        let note = Origin::bot(at("2026-11-30T12:00:00Z"), Direction::Start, "kim");
        let seen = |cause, began: &str| Seen {
            up: true,
            since: at(began),
            cause,
            group: "APP".into(),
            kind: Kind::Ec2,
            name: String::new(),
            size: None,
            count: 1,
            hourly: None,
            began: Some(at(began)),
        };
        let later = forced(Direction::Start, "2026-11-30T12:06:00Z");
        // The bot's own start, its later groups: still the bot's.
        let own = [seen(Cause::Bot, "2026-11-30T12:00:00Z")];
        assert_eq!(
            note.cause_of(&forced(Direction::Start, "2026-11-30T12:00:00Z"), &own),
            Some(Cause::Bot)
        );
        // A force-stop at 12:03, then an operator's force-start at 12:06: the
        // operator's.
        let stopped = [seen(Cause::Forced, "2026-11-30T12:03:00Z")];
        assert_eq!(note.cause_of(&later, &stopped), None);
        // A change by the schedule in between takes nothing.
        let scheduled = [seen(Cause::Schedule, "2026-11-30T12:03:00Z")];
        assert_eq!(note.cause_of(&later, &scheduled), Some(Cause::Bot));
    }
}
