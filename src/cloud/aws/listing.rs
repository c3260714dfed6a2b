//! Listings within the time a run has: a [`Deadline`] that bounds every request of a
//! client (or of one listing) by the run's remaining time rather than by fixed
//! constants, and a [`Listing`] that asks for one page after another until its
//! deadline, keeping what it got when the time runs out or a page is refused.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::timeout::TimeoutConfig;
// The interceptor interface is the SDK's runtime's, shared by every service crate;
// it is named here through one of them.
use aws_sdk_ec2::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_ec2::config::{ConfigBag, Intercept};
use aws_sdk_ec2::error::{BoxError, ProvideErrorMetadata, SdkError};

use super::{error_text, limits};
use crate::cloud::Unreachable;
use crate::fleet::{Instance, Kind};

/// The instant by which every request of a client, or of one listing, must be
/// answered, as an SDK interceptor: each request gets the time left as its operation
/// limit (retries included), and one that would begin after the instant fails at
/// once. With no instant set, requests keep the fixed [`limits`].
///
/// Clones share the instant, so a store can hand one to its client and set it per run.
#[derive(Debug, Clone, Default)]
pub struct Deadline {
    at: Arc<Mutex<Option<Instant>>>,
    /// Whether one attempt may take all the time left (a page of a large listing
    /// can take tens of seconds on a slow service) rather than [`limits::ATTEMPT`]
    /// (a small read or write that hangs is better tried again).
    whole_attempts: bool,
}

/// A request that would have begun after its deadline.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("not sent: the run's time for AWS requests was up")]
pub struct TimeUp;

impl Deadline {
    /// For small requests (the tables' reads and writes): none outlasts the
    /// instant, and an attempt that hangs is tried again after [`limits::ATTEMPT`]
    /// while time is left. No instant until [`Deadline::set`].
    pub fn for_requests() -> Deadline {
        Deadline::default()
    }

    /// For the pages of a listing that must end at `at`: one page may take all the
    /// time left.
    pub fn for_pages(at: Option<Instant>) -> Deadline {
        Deadline {
            at: Arc::new(Mutex::new(at)),
            whole_attempts: true,
        }
    }

    /// Sets the instant (`None`: no deadline beyond the fixed limits).
    pub fn set(&self, at: Option<Instant>) {
        *self.lock() = at;
    }

    /// The instant, if one is set.
    pub fn at(&self) -> Option<Instant> {
        *self.lock()
    }

    /// The time a request beginning now may take, if there is a deadline.
    pub fn left(&self) -> Option<Duration> {
        self.at()
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // A plain instant: a panic elsewhere cannot leave it torn.
        self.at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The limits of a request that must end within `left`.
    fn limits(&self, left: Duration) -> TimeoutConfig {
        let attempt = if self.whole_attempts {
            left
        } else {
            left.min(limits::ATTEMPT)
        };
        TimeoutConfig::builder()
            .connect_timeout(limits::CONNECT.min(left))
            .operation_attempt_timeout(attempt)
            .operation_timeout(left)
            .build()
    }
}

impl Intercept for Deadline {
    fn name(&self) -> &'static str {
        "Deadline"
    }

    // Runs before the SDK reads the request's time limits, so the limits set here
    // are the ones it applies (they take precedence over the client's).
    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(left) = self.left() else {
            return Ok(());
        };
        if left.is_zero() {
            return Err(Box::new(TimeUp));
        }
        cfg.interceptor_state().store_put(self.limits(left));
        Ok(())
    }
}

/// How a listing ended before its last page.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stop {
    /// The deadline came first.
    Late,
    /// The service refused a page (after the SDK's retries).
    Failed(String),
}

/// One kind's listing in one place: the pages asked for so far, what they held, and
/// whether it stopped before its last page.
#[derive(Debug)]
pub(super) struct Listing {
    /// What is listed, for messages ("EC2 instances").
    pub what: &'static str,
    /// The kind listed.
    pub kind: Kind,
    /// The place's label (`""`: the function's own account and Region).
    place: String,
    /// The time the whole look had, for messages.
    within: Option<Duration>,
    /// When the listing must stop.
    until: Option<Instant>,
    /// Pages asked for (answered or not).
    pages: u32,
    /// What the answered pages held.
    pub found: Vec<Instance>,
    stopped: Option<Stop>,
}

impl Listing {
    /// A listing of `kind` in `place` that must stop at `until`.
    pub fn new(
        what: &'static str,
        kind: Kind,
        place: &str,
        within: Option<Duration>,
        until: Option<Instant>,
    ) -> Listing {
        Listing {
            what,
            kind,
            place: place.to_string(),
            within,
            until,
            pages: 0,
            found: Vec::new(),
            stopped: None,
        }
    }

    /// The interceptor bounding the listing's next request by its deadline.
    pub fn bound(&self) -> Deadline {
        Deadline::for_pages(self.until)
    }

    /// Sends one page's request (built with [`Listing::bound`]) unless the
    /// listing stopped or its time is up; `None` when there is no page to use, the
    /// reason kept.
    pub async fn page<T, E: 'static, R: 'static>(
        &mut self,
        call: impl Future<Output = Result<T, SdkError<E, R>>>,
    ) -> Option<T>
    where
        SdkError<E, R>: ProvideErrorMetadata + std::error::Error,
    {
        if self.stopped.is_some() {
            return None;
        }
        if self.until.is_some_and(|until| Instant::now() >= until) {
            self.stopped = Some(Stop::Late);
            return None;
        }
        self.pages += 1;
        let asked = Instant::now();
        // The SDK's own limits end the request at the deadline; the runtime's
        // timer is the backstop for anything outside them (resolving credentials).
        let answer = match self.until {
            Some(until) => {
                match tokio::time::timeout_at(tokio::time::Instant::from_std(until), call).await {
                    Ok(answer) => answer,
                    Err(_) => {
                        self.stopped = Some(Stop::Late);
                        return None;
                    }
                }
            }
            None => call.await,
        };
        match answer {
            Ok(page) => {
                tracing::debug!(
                    action = "observe",
                    kind = %self.kind,
                    place = %self.place,
                    page = self.pages,
                    listed = self.found.len(),
                    took_ms = asked.elapsed().as_millis() as u64,
                    "{} page {} in {:?}",
                    self.what,
                    self.pages,
                    asked.elapsed()
                );
                Some(page)
            }
            Err(SdkError::TimeoutError(_)) if self.until.is_some() => {
                self.stopped = Some(Stop::Late);
                None
            }
            Err(e) if self.until.is_some() && time_was_up(&e) => {
                self.stopped = Some(Stop::Late);
                None
            }
            Err(e) => {
                self.stopped = Some(Stop::Failed(error_text(&e)));
                None
            }
        }
    }

    /// Whether the listing was refused before it listed anything: the place (or
    /// this kind there) cannot be observed at all.
    pub fn refused_outright(&self) -> bool {
        matches!(self.stopped, Some(Stop::Failed(_))) && self.found.is_empty()
    }

    /// The service's error, when a page was refused.
    pub fn failure(&self) -> Option<&str> {
        match &self.stopped {
            Some(Stop::Failed(e)) => Some(e),
            _ => None,
        }
    }

    /// What did not finish, in words naming the place and the kind; `None` when
    /// the listing finished.
    pub fn unfinished(&self) -> Option<Unreachable> {
        let stop = self.stopped.as_ref()?;
        let place = if self.place.is_empty() {
            "this account and Region"
        } else {
            &self.place
        };
        let listed = self.found.len();
        let error = match stop {
            Stop::Late => format!(
                "{} in {place} did not finish listing within {} (page {} unanswered, {listed} listed before it)",
                self.what,
                self.within
                    .map_or("the time the run had".to_string(), seconds),
                self.pages.max(1),
            ),
            Stop::Failed(e) => format!(
                "{} in {place} could not be listed (page {}, {listed} listed before it): {e}",
                self.what, self.pages
            ),
        };
        Some(Unreachable {
            place: self.place.clone(),
            kind: Some(self.kind),
            error,
        })
    }
}

/// Whether an error comes of a [`Deadline`] that was past when the request began.
fn time_was_up(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<TimeUp>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// `40 s`, `2.5 s`: a duration as people read it in a message.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_gives_each_request_the_time_left_and_no_more() {
        let soon = Instant::now() + Duration::from_secs(4);
        let store = Deadline::for_requests();
        assert_eq!(store.left(), None);
        store.set(Some(soon));
        let left = store.left().unwrap();
        assert!(left <= Duration::from_secs(4) && left > Duration::from_secs(3));
        let limits = store.limits(left);
        assert_eq!(limits.operation_timeout(), Some(left));
        assert_eq!(limits.operation_attempt_timeout(), Some(left));
        assert_eq!(limits.connect_timeout(), Some(limits::CONNECT.min(left)));
        // A small request that hangs is tried again after the usual attempt limit.
        let long = Duration::from_secs(90);
        assert_eq!(
            store.limits(long).operation_attempt_timeout(),
            Some(limits::ATTEMPT)
        );
        // One page of a listing may take all the time left.
        let pages = Deadline::for_pages(Some(soon));
        assert_eq!(pages.limits(long).operation_attempt_timeout(), Some(long));
        store.set(None);
        assert_eq!(store.left(), None);
    }

    #[test]
    fn an_unfinished_listing_names_its_kind_place_and_page() {
        let mut l = Listing::new(
            "EC2 instances",
            Kind::Ec2,
            "123456789012/us-east-1",
            Some(Duration::from_secs(40)),
            None,
        );
        assert_eq!(l.unfinished(), None);
        l.pages = 3;
        l.stopped = Some(Stop::Late);
        let u = l.unfinished().unwrap();
        assert_eq!(u.kind, Some(Kind::Ec2));
        assert_eq!(u.place, "123456789012/us-east-1");
        assert_eq!(
            u.error,
            "EC2 instances in 123456789012/us-east-1 did not finish listing within 40 s (page 3 unanswered, 0 listed before it)"
        );
        l.place = String::new();
        l.stopped = Some(Stop::Failed("Throttling: Rate exceeded".into()));
        assert_eq!(
            l.unfinished().unwrap().error,
            "EC2 instances in this account and Region could not be listed (page 3, 0 listed before it): Throttling: Rate exceeded"
        );
        assert!(l.refused_outright());
        assert_eq!(seconds(Duration::from_millis(2500)), "2.5 s");
    }
}
