//! Warnings before a stop: first when it enters the lead time, once more in the
//! second half of it, never when nothing of the schedule is up.

use chrono::{DateTime, Duration, Utc};

use super::output::What;
use super::sequence::ScheduleRun;
use super::state::Warning;
use crate::fleet::Direction;

impl ScheduleRun<'_> {
    /// Warns about a coming stop: first when it enters the lead time, once more in the
    /// second half of it, and never when nothing of the schedule is up.
    pub(crate) fn warn(&mut self, next_stop: Option<DateTime<Utc>>) {
        let Some(stop_at) = next_stop else {
            self.state.warning = None;
            return;
        };
        if self
            .state
            .sequence
            .as_ref()
            .is_some_and(|q| q.direction == Direction::Stop)
        {
            return;
        }
        let up: Vec<String> = self
            .schedule
            .groups
            .iter()
            .zip(&self.groups)
            .filter(|(_, members)| members.iter().any(|i| i.power.is_live()))
            .map(|(g, _)| g.name.clone())
            .collect();
        if up.is_empty() {
            return;
        }
        let seconds_left = (stop_at - self.now).num_seconds();
        let minutes_left = (seconds_left + 59) / 60;
        let half = (self.settings.warn_before.num_seconds() + 1) / 2;
        if stop_at - self.now > self.settings.warn_before {
            // Not yet: the first warning is due when the stop enters the lead time.
            self.out.look_at(stop_at - self.settings.warn_before);
            return;
        }
        let previous = self.state.warning.take().filter(|w| w.stop_at == stop_at);
        if previous.as_ref().is_none_or(|w| w.sent < 2) && seconds_left > half {
            self.out.look_at(stop_at - Duration::seconds(half));
        }
        let send = match &previous {
            None => true,
            Some(w) => w.sent < 2 && seconds_left <= half && w.minutes_left * 60 > half,
        };
        if !send {
            self.state.warning = previous;
            return;
        }
        self.state.warning = Some(Warning {
            stop_at,
            sent: previous.map_or(1, |w| w.sent + 1),
            minutes_left,
        });
        self.event(
            self.now,
            What::Warn {
                stop_at: stop_at.with_timezone(&self.schedule.tz).fixed_offset(),
                minutes_left,
                groups: up,
            },
        );
    }
}
