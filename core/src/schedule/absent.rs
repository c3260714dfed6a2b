//! What a stored schedule item that leaves out `TimeZone` or `Enabled` means.
//!
//! The original Python tool ran in Asia/Seoul for every schedule and read a missing
//! `Enabled` as off; this scheduler reads a missing zone as the deployment's default
//! and a missing `Enabled` as on. Moved over unchanged, such items would act at other
//! instants, or at all. A deployment says what they mean; until it does, they are
//! refused, each named, and never guessed.

use chrono_tz::Tz;

use super::ScheduleError;

/// The deployment's reading of items without `TimeZone` or `Enabled`. The default
/// reads them as this crate always has (UTC, on), for stores and tests that do not
/// come from an old deployment; a deployment's settings replace it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Absent {
    /// The zone of a schedule without `TimeZone`; `None`: such a schedule is refused.
    pub zone: Option<Tz>,
    /// What a missing `Enabled` means; `None`: such a schedule is refused.
    pub enabled: Option<bool>,
}

impl Default for Absent {
    fn default() -> Self {
        Absent {
            zone: Some(chrono_tz::UTC),
            enabled: Some(true),
        }
    }
}

impl Absent {
    /// Reads one schedule item by what it leaves out: `Ok(Some(false))` when a missing
    /// `Enabled` means off (the item is to be read as disabled), `Ok(None)` when
    /// nothing needs changing, and an error naming the schedule and the setting when
    /// what it leaves out has no meaning in this deployment.
    pub fn read(
        &self,
        schedule: &str,
        has_zone: bool,
        has_enabled: bool,
    ) -> Result<Option<bool>, ScheduleError> {
        if !has_zone && self.zone.is_none() {
            return Err(ScheduleError::new(
                schedule,
                "has no TimeZone and this deployment has no default zone: set TimeZone on the schedule, or DEFAULT_TIME_ZONE (the template's DefaultTimeZone; the original Python tool ran in Asia/Seoul); the schedule is skipped until then",
            ));
        }
        match (has_enabled, self.enabled) {
            (true, _) | (false, Some(true)) => Ok(None),
            (false, Some(false)) => Ok(Some(false)),
            (false, None) => Err(ScheduleError::new(
                schedule,
                "has no Enabled, which the original Python tool reads as off and this scheduler as on: set Enabled on the schedule, or MISSING_ENABLED=off (as the original) or on (the template's MissingEnabled); the schedule is skipped until then",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: Absent = Absent {
        zone: None,
        enabled: None,
    };

    #[test]
    fn a_complete_item_is_read_as_it_is_whatever_the_settings() {
        assert_eq!(STRICT.read("Dev", true, true), Ok(None));
        assert_eq!(Absent::default().read("Dev", true, true), Ok(None));
    }

    #[test]
    fn a_missing_zone_without_a_default_is_refused_by_name() {
        let e = STRICT.read("Dev", false, true).unwrap_err();
        assert_eq!(e.schedule, "Dev");
        assert!(e.problem.contains("DEFAULT_TIME_ZONE"), "{e}");
        let seoul = Absent {
            zone: Some(chrono_tz::Asia::Seoul),
            enabled: None,
        };
        assert_eq!(seoul.read("Dev", false, true), Ok(None));
    }

    #[test]
    fn a_missing_enabled_is_off_on_or_refused_as_the_deployment_says() {
        let e = STRICT.read("Dev", true, false).unwrap_err();
        assert!(e.problem.contains("MISSING_ENABLED"), "{e}");
        let off = Absent {
            enabled: Some(false),
            ..STRICT
        };
        assert_eq!(off.read("Dev", true, false), Ok(Some(false)));
        assert_eq!(Absent::default().read("Dev", false, false), Ok(None));
    }
}
