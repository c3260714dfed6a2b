//! A small HTTP proxy on 127.0.0.1 in front of the emulator, for the faults it cannot
//! make itself: it forwards every request to moto unless a rule answers it first
//! (with a throttling error, say), holds some requests back for a while (a slow or
//! silent service), and it counts what passed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The AWS operation (`Action=` of a query request, or `X-Amz-Target`).
    pub operation: String,
    /// Whether a rule answered it instead of moto.
    pub injected: bool,
}

/// Decides, per request, whether to answer it with a fault: the operation, how
/// many requests of that operation came before, and the request's body.
pub type Rule = Box<dyn Fn(&str, usize, &str) -> Option<String> + Send + Sync>;

/// Decides, per request, how long to hold it before answering (a slow service; an
/// hour is one that never answers): the operation, how many requests of that
/// operation came before, and the request's body.
pub type Delay = Box<dyn Fn(&str, usize, &str) -> Option<Duration> + Send + Sync>;

/// The proxy; it stops when the test's runtime ends.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`: point the SDK here.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Proxy {
    /// A proxy to `upstream` (`http://127.0.0.1:PORT`) applying `rule`.
    pub async fn start(upstream: &str, rule: Rule) -> Proxy {
        Proxy::slow(upstream, rule, Box::new(|_, _, _| None)).await
    }

    /// A proxy to `upstream` applying `rule`, and holding requests back as `delay`
    /// says before answering them.
    pub async fn slow(upstream: &str, rule: Rule, delay: Delay) -> Proxy {
        let socket = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", socket.local_addr().expect("address"));
        let upstream = upstream.trim_start_matches("http://").to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let rule = Arc::new(rule);
        let delay = Arc::new(delay);
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = socket.accept().await else {
                    return;
                };
                let (upstream, log, rule, delay) =
                    (upstream.clone(), log.clone(), rule.clone(), delay.clone());
                tokio::spawn(async move { serve(client, &upstream, &log, &rule, &delay).await });
            }
        });
        Proxy { url, seen }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// An EC2 throttling error, as EC2 sends it.
pub fn ec2_throttled() -> String {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>proxy</RequestID></Response>";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

async fn serve(
    mut client: TcpStream,
    upstream: &str,
    log: &Mutex<Vec<Seen>>,
    rule: &Rule,
    delay: &Delay,
) {
    // Requests on one connection, one after another (the SDK keeps connections).
    while let Some((head, body)) = read_request(&mut client).await {
        let operation = operation_of(&head, &body);
        let before = log
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.operation == operation)
            .count();
        let text = String::from_utf8_lossy(&body).into_owned();
        let injected = rule(&operation, before, &text);
        log.lock().unwrap().push(Seen {
            operation: operation.clone(),
            injected: injected.is_some(),
        });
        if let Some(wait) = delay(&operation, before, &text) {
            tokio::time::sleep(wait).await;
        }
        let answer = match injected {
            Some(answer) => answer.into_bytes(),
            None => match forward(upstream, &head, &body).await {
                Some(a) => a,
                None => return,
            },
        };
        if client.write_all(&answer).await.is_err() {
            return;
        }
        // moto closes after each answer; so does the proxy, which the client sees.
        if answer_closes(&answer) {
            return;
        }
    }
}

fn answer_closes(answer: &[u8]) -> bool {
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..head_end]).to_ascii_lowercase();
    head.contains("connection: close") || !head.contains("content-length")
}

async fn forward(upstream: &str, head: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).await.ok()?;
    // One request per upstream connection: ask moto to close when done.
    let mut head: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .filter(|l| !l.is_empty())
        .collect();
    head.push("Connection: close");
    let head = head.join("\r\n") + "\r\n\r\n";
    server.write_all(head.as_bytes()).await.ok()?;
    server.write_all(body).await.ok()?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).await.ok()?;
    Some(answer)
}

async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((head, buf[head_end..].to_vec()))
}

fn operation_of(head: &str, body: &[u8]) -> String {
    for line in head.split("\r\n") {
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("x-amz-target")
        {
            return v.trim().rsplit('.').next().unwrap_or_default().to_string();
        }
    }
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|p| p.strip_prefix("Action="))
        .unwrap_or_default()
        .to_string()
}

/// STS refusing to let the caller assume a role, as STS says it.
pub fn sts_access_denied() -> String {
    let body = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole</Message></Error><RequestId>proxy</RequestId></ErrorResponse>";
    format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// RDS refusing a listing to a caller without the permission, as RDS says it.
pub fn rds_access_denied() -> String {
    let body = "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: rds:DescribeDBInstances</Message></Error><RequestId>proxy</RequestId></ErrorResponse>";
    format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}
