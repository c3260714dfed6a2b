//! Webhook delivery against a real HTTP listener on 127.0.0.1: every format's body and
//! headers, retries of 500 and 429 (with Retry-After), and a chat that never answers.

mod common;

use std::time::{Duration, Instant};

use common::listener::{Listener, Reply};
use instance_scheduler::clock::SystemClock;
use instance_scheduler::notify::deliver::{Notifier, SecretUrl, Wants, Webhook};
use instance_scheduler::notify::formats::Format;
use instance_scheduler::notify::{Field, Language, Message, Severity};

fn message(severity: Severity) -> Message {
    Message {
        schedule: "Development".into(),
        severity,
        title: "Development: running servers stop at 22:00 (10 min left)".into(),
        fields: vec![Field {
            title: "Still running".into(),
            text: "DB, API".into(),
        }],
    }
}

/// A deadline no test here comes near, unless it is about the deadline.
const DEADLINE: Duration = Duration::from_secs(30);

fn notifier(url: &str, format: Format, wants: Wants, timeout: Duration) -> Notifier {
    let mut n = Notifier::new(
        vec![Webhook {
            label: "WEBHOOK".into(),
            url: SecretUrl::new(url),
            format,
            wants,
        }],
        Language::En,
        timeout,
    );
    n.max_wait = Duration::from_secs(2);
    n
}

#[tokio::test]
async fn every_format_arrives_with_its_headers_and_body() {
    for format in [
        Format::Jandi,
        Format::Slack,
        Format::Teams,
        Format::Discord,
        Format::GoogleChat,
    ] {
        let l = Listener::start(vec![Reply::Status(200)]).await;
        let url = format!("{}/hook/{}", l.url, format.name());
        let n = notifier(&url, format, Wants::All, Duration::from_secs(5));
        let m = message(Severity::Warning);
        assert!(
            n.send(std::slice::from_ref(&m), &SystemClock, DEADLINE)
                .await
                .is_empty()
        );
        let got = l.received();
        assert_eq!(got.len(), 1, "{format:?}");
        assert_eq!(got[0].method, "POST");
        assert_eq!(got[0].path, format!("/hook/{}", format.name()));
        assert_eq!(got[0].headers["content-type"], "application/json");
        assert_eq!(got[0].json(), format.body(&m), "{format:?}");
        if format == Format::Jandi {
            assert_eq!(
                got[0].headers["accept"],
                "application/vnd.tosslab.jandi-v2+json"
            );
        }
    }
}

#[tokio::test]
async fn a_server_error_is_retried_until_it_passes() {
    let l = Listener::start(vec![
        Reply::Status(500),
        Reply::Status(502),
        Reply::Status(200),
    ])
    .await;
    let n = notifier(&l.url, Format::Slack, Wants::All, Duration::from_secs(5));
    assert!(
        n.send(&[message(Severity::Ok)], &SystemClock, DEADLINE)
            .await
            .is_empty()
    );
    assert_eq!(l.received().len(), 3);
}

#[tokio::test]
async fn too_many_requests_waits_as_told() {
    let l = Listener::start(vec![Reply::TooMany(1), Reply::Status(200)]).await;
    let n = notifier(&l.url, Format::Discord, Wants::All, Duration::from_secs(5));
    let started = Instant::now();
    assert!(
        n.send(&[message(Severity::Ok)], &SystemClock, DEADLINE)
            .await
            .is_empty()
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(l.received().len(), 2);
}

#[tokio::test]
async fn a_chat_that_stays_down_gives_up_after_three_attempts() {
    let l = Listener::start(vec![Reply::Status(503)]).await;
    let n = notifier(&l.url, Format::Teams, Wants::All, Duration::from_secs(5));
    let failed = n
        .send(&[message(Severity::Error)], &SystemClock, DEADLINE)
        .await;
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].reason,
        "HTTP 503 Service Unavailable after 3 attempts"
    );
    assert_eq!(l.received().len(), 3);
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let l = Listener::start(vec![Reply::Status(404)]).await;
    let n = notifier(
        &l.url,
        Format::GoogleChat,
        Wants::All,
        Duration::from_secs(5),
    );
    let failed = n
        .send(&[message(Severity::Ok)], &SystemClock, DEADLINE)
        .await;
    assert_eq!(failed[0].reason, "HTTP 404 Not Found");
    assert_eq!(l.received().len(), 1);
}

#[tokio::test]
async fn a_chat_that_never_answers_costs_one_timeout_and_no_secret() {
    let l = Listener::start(vec![Reply::Silent]).await;
    let url = format!("{}/services/T0/B0/s3cr3t-token", l.url);
    let n = notifier(&url, Format::Slack, Wants::All, Duration::from_millis(500));
    let started = Instant::now();
    let failed = n
        .send(&[message(Severity::Ok)], &SystemClock, DEADLINE)
        .await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].reason.starts_with("no answer"),
        "{}",
        failed[0].reason
    );
    assert!(!failed[0].reason.contains("s3cr3t"), "{}", failed[0].reason);
    assert!(
        !failed[0].reason.contains("127.0.0.1"),
        "{}",
        failed[0].reason
    );
}

#[tokio::test]
async fn an_alerts_only_channel_hears_warnings_and_errors_only() {
    let l = Listener::start(vec![Reply::Status(200)]).await;
    let n = notifier(&l.url, Format::Jandi, Wants::Alerts, Duration::from_secs(5));
    n.send(
        &[
            message(Severity::Ok),
            message(Severity::Warning),
            message(Severity::Error),
        ],
        &SystemClock,
        DEADLINE,
    )
    .await;
    let colours: Vec<String> = l
        .received()
        .iter()
        .map(|r| r.json()["connectColor"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(colours, ["#ECB22E", "#E01E5A"]);
}
