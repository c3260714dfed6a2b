//! A small stand-in for the AWS Price List Query API on 127.0.0.1: it answers
//! `GetProducts` (JSON 1.1, `X-Amz-Target: AWSPriceListService.GetProducts`) in the
//! documented response shape (`FormatVersion`, `PriceList` of JSON documents with
//! `terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD`), from a fixed price list
//! (EC2 and RDS instances by `instanceType`; Fargate by `usagetype` under
//! `AmazonECS`; EBS volumes by `volumeApiName` under `AmazonEC2`'s `Storage`), and
//! records what it was asked.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// On-demand hourly USD prices the stub knows: (service code, instance type, price).
pub const PRICES: &[(&str, &str, &str)] = &[
    ("AmazonEC2", "m5.large", "0.0960000000"),
    ("AmazonEC2", "t3.micro", "0.0104000000"),
    ("AmazonEC2", "t3.medium", "0.0416000000"),
    ("AmazonRDS", "db.t3.micro", "0.0180000000"),
];

/// Fargate's on-demand prices the stub knows (service code `AmazonECS`): the usage
/// type (with the Region's prefix, as the Price List writes it), its unit and USD;
/// with the Spot twin a `CONTAINS` filter also matches, at another price.
pub const FARGATE: &[(&str, &str, &str)] = &[
    ("USE1-Fargate-vCPU-Hours:perCPU", "hours", "0.0404800000"),
    ("USE1-Fargate-GB-Hours", "GB-Hours", "0.0044450000"),
    (
        "USE1-SpotUsage-Fargate-vCPU-Hours:perCPU",
        "hours",
        "0.0121440000",
    ),
];

/// EBS volumes' prices a GB-month (`AmazonEC2`, `productFamily` `Storage`, by
/// `volumeApiName`).
pub const EBS: &[(&str, &str)] = &[
    ("gp2", "0.1000000000"),
    ("gp3", "0.0800000000"),
    ("standard", "0.0500000000"),
];

/// Who may ask: given a request's access key id.
type Gate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The stub; it stops when the test's runtime ends.
pub struct PriceStub {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    asked: Arc<Mutex<Vec<Value>>>,
}

impl PriceStub {
    /// Starts the stub on a free port.
    pub async fn start() -> PriceStub {
        PriceStub::gated(|_| true).await
    }

    /// Starts the stub on a free port, answering only callers `permits` allows: it is
    /// given the access key id of each request's SigV4 `Authorization` header, and a
    /// caller it refuses gets the Price List API's `AccessDeniedException` (and is
    /// not recorded as asked). `permits` may block (it runs off the runtime).
    pub async fn gated(permits: impl Fn(&str) -> bool + Send + Sync + 'static) -> PriceStub {
        let socket = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let url = format!("http://{}", socket.local_addr().expect("address"));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        let permits: Gate = Arc::new(permits);
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = socket.accept().await else {
                    return;
                };
                let log = log.clone();
                let permits = permits.clone();
                tokio::spawn(async move {
                    let Some((head, body)) = read_request(&mut stream).await else {
                        return;
                    };
                    let key = access_key(&head);
                    let allowed = tokio::task::spawn_blocking(move || permits(&key))
                        .await
                        .unwrap_or(false);
                    let reply = if allowed {
                        let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                        log.lock().unwrap().push(request.clone());
                        let answer = answer(&request).to_string();
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                            answer.len()
                        )
                    } else {
                        let answer = json!({
                            "__type": "AccessDeniedException",
                            "Message": "not authorized to perform: pricing:GetProducts",
                        })
                        .to_string();
                        format!(
                            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: AccessDeniedException\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                            answer.len()
                        )
                    };
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        PriceStub { url, asked }
    }

    /// The GetProducts requests received, as JSON.
    pub fn asked(&self) -> Vec<Value> {
        self.asked.lock().unwrap().clone()
    }

    /// An SDK configuration whose Price List client asks this stub.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        super::sdk_at(&self.url).await
    }
}

/// The access key id a SigV4 `Authorization` header names
/// (`AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`).
fn access_key(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("authorization").then_some(v)
        })
        .and_then(|v| v.split("Credential=").nth(1))
        .and_then(|c| c.split('/').next())
        .unwrap_or_default()
        .to_string()
}

/// One request's head and body.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Some((
                    text[..end].to_string(),
                    String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).to_string(),
                ));
            }
        }
    }
}

/// The documented shape of a GetProducts answer for `request`.
fn answer(request: &Value) -> Value {
    let service = request["ServiceCode"].as_str().unwrap_or_default();
    let filter = |field: &str| {
        request["Filters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["Field"] == field)
            .and_then(|f| f["Value"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let product = |family: &str, attributes: Value, unit: &str, price: &str| {
        json!({
            "product": {"productFamily": family, "sku": "STUBSKU", "attributes": attributes},
            "serviceCode": service,
            "terms": {"OnDemand": {"STUBSKU.JRTCKXETXF": {
                "offerTermCode": "JRTCKXETXF", "sku": "STUBSKU",
                "priceDimensions": {"STUBSKU.JRTCKXETXF.6YS6EN2CT7": {
                    "unit": unit, "description": format!("${price} per {unit}"),
                    "pricePerUnit": {"USD": price}}}}}}
        })
        .to_string()
    };
    if service == "AmazonECS" {
        // `usagetype` comes with a CONTAINS filter: every usage type holding it.
        let wanted = filter("usagetype");
        let list: Vec<String> = FARGATE
            .iter()
            .filter(|(usage, _, _)| !wanted.is_empty() && usage.contains(&wanted))
            .map(|(usage, unit, price)| {
                product(
                    "Compute",
                    json!({"usagetype": usage, "regionCode": filter("regionCode")}),
                    unit,
                    price,
                )
            })
            .collect();
        return json!({"FormatVersion": "aws_v1", "PriceList": list});
    }
    if service == "AmazonEC2" && filter("productFamily") == "Storage" {
        let volume = filter("volumeApiName");
        let list: Vec<String> = EBS
            .iter()
            .filter(|(v, _)| *v == volume)
            .map(|(v, price)| {
                product(
                    "Storage",
                    json!({"volumeApiName": v, "regionCode": filter("regionCode")}),
                    "GB-Mo",
                    price,
                )
            })
            .collect();
        return json!({"FormatVersion": "aws_v1", "PriceList": list});
    }
    let class = filter("instanceType");
    let list: Vec<String> = PRICES
        .iter()
        .filter(|(s, c, _)| *s == service && *c == class)
        .map(|(_, c, price)| {
            json!({
                "product": {"productFamily": "Compute Instance", "sku": "STUBSKU",
                            "attributes": {"instanceType": c, "regionCode": filter("regionCode")}},
                "serviceCode": service,
                "terms": {"OnDemand": {"STUBSKU.JRTCKXETXF": {
                    "offerTermCode": "JRTCKXETXF", "sku": "STUBSKU",
                    "priceDimensions": {"STUBSKU.JRTCKXETXF.6YS6EN2CT7": {
                        "unit": "Hrs", "description": format!("${price} per On Demand {c}"),
                        "pricePerUnit": {"USD": price}}}}}}
            })
            .to_string()
        })
        .collect();
    json!({"FormatVersion": "aws_v1", "PriceList": list})
}
