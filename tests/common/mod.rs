//! A local AWS for tests and the demo: a `moto` server on 127.0.0.1, SDK clients
//! pointed at it, the tables, and a tagged fleet.
#![allow(dead_code)]

pub mod listener;
pub mod pricing;
pub mod proxy;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use chrono::{DateTime, Utc};
pub use instance_scheduler::clock::VirtualClock;
use instance_scheduler::cloud::aws::{AwsCloud, sdk_config};
use instance_scheduler::run::{RunConfig, Runner};
use instance_scheduler::store::Items;
use instance_scheduler::store::dynamo::{DynamoStore, Tables};

/// A running moto server, stopped when dropped.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// SDK configuration pointing at it.
    pub sdk: aws_config::SdkConfig,
}

/// Where the project's virtualenv keeps moto (override with `MOTO_SERVER`).
fn moto_server() -> PathBuf {
    std::env::var_os("MOTO_SERVER").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server"),
        PathBuf::from,
    )
}

impl Moto {
    /// Starts a fresh server on a free port and waits until it answers.
    pub async fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = moto_server();
        // The request recording goes to a temporary file, never into the checkout.
        let recording = std::env::temp_dir().join(format!("moto-recording-{port}.jsonl"));
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}); run `make venv` (make test does it)",
                    server.display()
                )
            });
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start on {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let sdk = sdk_at(&url).await;
        Moto { child, url, sdk }
    }

    /// A store on the default table names, tables created.
    pub async fn store(&self) -> DynamoStore {
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), Tables::default());
        store.create_tables().await.expect("tables");
        store
    }

    /// A runner on this emulator at a virtual clock.
    pub async fn runner(&self, at: &str) -> Runner<AwsCloud, DynamoStore, VirtualClock> {
        Runner {
            cloud: AwsCloud::new(&self.sdk),
            store: self.store().await,
            clock: VirtualClock::at(self::at(at)),
            config: RunConfig {
                poll_every: Duration::from_secs(10),
                budget: Duration::from_secs(60),
                ..RunConfig::default()
            },
            notifier: Default::default(),
            wakeups: Default::default(),
            shards: Default::default(),
        }
    }

    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk)
    }

    pub fn rds(&self) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.sdk)
    }

    /// Starts recording requests (moto's recorder), forgetting earlier ones.
    pub async fn record(&self) {
        for path in ["reset-recording", "start-recording"] {
            http_post(&format!("{}/moto-api/recorder/{path}", self.url)).await;
        }
    }

    /// The requests recorded since [`Moto::record`], as moto keeps them (`method`,
    /// `url`, `headers`, `body`; see [`request_body`]).
    pub async fn recorded_requests(&self) -> Vec<serde_json::Value> {
        http_post(&format!("{}/moto-api/recorder/stop-recording", self.url)).await;
        let log = http_get(&format!(
            "{}/moto-api/recorder/download-recording",
            self.url
        ))
        .await;
        log.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The AWS operations recorded since [`Moto::record`], counted by name.
    pub async fn recorded(&self) -> BTreeMap<String, usize> {
        http_post(&format!("{}/moto-api/recorder/stop-recording", self.url)).await;
        let log = http_get(&format!(
            "{}/moto-api/recorder/download-recording",
            self.url
        ))
        .await;
        let mut counts = BTreeMap::new();
        for line in log.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let name = operation_of(&entry);
            if !name.is_empty() {
                *counts.entry(name).or_insert(0) += 1;
            }
        }
        counts
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of a recorded request, decoded.
pub fn request_body(entry: &serde_json::Value) -> String {
    use base64::Engine;
    let raw = entry["body"].as_str().unwrap_or_default();
    if entry["body_encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    } else {
        raw.to_string()
    }
}

/// The operation of a recorded request: the `X-Amz-Target` header (DynamoDB) or the
/// `Action` form field (EC2, RDS).
pub fn operation_of(entry: &serde_json::Value) -> String {
    if let Some(target) = entry["headers"]["X-Amz-Target"].as_str() {
        return target.rsplit('.').next().unwrap_or_default().to_string();
    }
    let body = request_body(entry);
    for pair in body.split('&') {
        if let Some(action) = pair.strip_prefix("Action=") {
            return action.to_string();
        }
    }
    String::new()
}

/// The crate's own SDK configuration (timeouts, retries), pointed at `url`.
pub async fn sdk_at(url: &str) -> aws_config::SdkConfig {
    sdk_config(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            )),
    )
    .await
}

/// Minimal HTTP/1.1 over a TcpStream, for moto's own API (no client crate needed).
async fn http(method: &str, url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("moto api");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

async fn http_post(url: &str) -> String {
    http("POST", url).await
}

async fn http_get(url: &str) -> String {
    http("GET", url).await
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// Schedule files' text into the three tables.
pub async fn load_schedules(store: &DynamoStore, files: &[&str]) {
    let mut items = Items::default();
    for f in files {
        instance_scheduler::store::files::parse_into(f, &mut items).expect("schedule file");
    }
    store.put_items(&items).await.expect("items written");
}

/// Launches `count` EC2 instances with these tags (and a Name), stopped; returns ids.
/// Large fleets go in launches of 500, which the emulator answers in good time.
pub async fn ec2_instances(moto: &Moto, tags: &[(&str, &str)], count: i32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut left = count;
    while left > 0 {
        let n = left.min(500);
        ids.extend(ec2_launch(moto, tags, n).await);
        left -= n;
    }
    ids
}

/// Launches `count` stopped EC2 instances with these tags through `sdk` (another
/// account or Region); returns ids.
pub async fn ec2_instances_with(
    sdk: &aws_config::SdkConfig,
    tags: &[(&str, &str)],
    count: i32,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut left = count;
    while left > 0 {
        let n = left.min(500);
        ids.extend(ec2_launch_with(sdk, tags, n).await);
        left -= n;
    }
    ids
}

async fn ec2_launch(moto: &Moto, tags: &[(&str, &str)], count: i32) -> Vec<String> {
    ec2_launch_with(&moto.sdk, tags, count).await
}

async fn ec2_launch_with(
    sdk: &aws_config::SdkConfig,
    tags: &[(&str, &str)],
    count: i32,
) -> Vec<String> {
    let mut spec = TagSpecification::builder().resource_type(ResourceType::Instance);
    for (k, v) in tags {
        spec = spec.tags(Tag::builder().key(*k).value(*v).build());
    }
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let out = ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(count)
        .max_count(count)
        .tag_specifications(spec.build())
        .send()
        .await
        .expect("run_instances");
    let ids: Vec<String> = out
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    ec2.stop_instances()
        .set_instance_ids(Some(ids.clone()))
        .send()
        .await
        .expect("stop_instances");
    ids
}

fn rds_tags(tags: &[(&str, &str)]) -> Vec<aws_sdk_rds::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(*k).value(*v).build())
        .collect()
}

/// Creates a stopped RDS PostgreSQL instance with these tags.
pub async fn rds_instance(moto: &Moto, id: &str, tags: &[(&str, &str)]) {
    rds_instance_with(&moto.sdk, id, tags).await
}

/// The same through `sdk` (another account or Region).
pub async fn rds_instance_with(sdk: &aws_config::SdkConfig, id: &str, tags: &[(&str, &str)]) {
    let rds = aws_sdk_rds::Client::new(sdk);
    let created = rds
        .create_db_instance()
        .db_instance_identifier(id)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("scheduler")
        .master_user_password("not-a-secret-1")
        .allocated_storage(20)
        .set_tags(Some(rds_tags(tags)))
        .send()
        .await;
    if let Err(e) = created {
        // On a loaded machine the emulator can answer after the attempt timeout: the
        // SDK's retry of a create that did happen then fails on what the first made.
        let code = e
            .as_service_error()
            .and_then(|s| s.meta().code())
            .unwrap_or_default();
        let exists = rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .is_ok_and(|d| !d.db_instances().is_empty());
        assert!(
            exists && (code == "DBSnapshotAlreadyExists" || code == "DBInstanceAlreadyExists"),
            "create_db_instance: {e:?}"
        );
    }
    rds.stop_db_instance()
        .db_instance_identifier(id)
        .send()
        .await
        .expect("stop_db_instance");
}

/// Creates a stopped Aurora PostgreSQL cluster with these tags.
pub async fn aurora_cluster(moto: &Moto, id: &str, tags: &[(&str, &str)]) {
    moto.rds()
        .create_db_cluster()
        .db_cluster_identifier(id)
        .engine("aurora-postgresql")
        .master_username("scheduler")
        .master_user_password("not-a-secret-1")
        .set_tags(Some(rds_tags(tags)))
        .send()
        .await
        .expect("create_db_cluster");
    moto.rds()
        .stop_db_cluster()
        .db_cluster_identifier(id)
        .send()
        .await
        .expect("stop_db_cluster");
}

/// The power states of every tagged or untagged EC2 instance, database and cluster
/// in the function's own account and Region, by id.
pub async fn states(moto: &Moto) -> BTreeMap<String, String> {
    states_with(&moto.sdk).await
}

/// Runs `tests/iam/moto_setup.py` against this emulator (IAM users and roles, a
/// Lambda function stub, IAM enforcement): setup the crate's own clients do not do.
pub fn moto_setup(moto: &Moto, args: &[&str]) -> serde_json::Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/iam/moto_setup.py"))
        .arg(&moto.url)
        .args(args)
        .output()
        .expect("python from .venv (make venv)");
    assert!(
        out.status.success(),
        "moto_setup {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("moto_setup prints JSON")
}

/// The crate's SDK configuration pointed at `url`, signing with these keys.
pub async fn sdk_as(url: &str, key: &str, secret: &str) -> aws_config::SdkConfig {
    sdk_config(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                key, secret, None, None, "tests",
            )),
    )
    .await
}

/// The emulator's SDK configuration in `region`, as `role` (assumed) or as the
/// default account when `None`.
pub async fn sdk_in(moto: &Moto, role: Option<&str>, region: &str) -> aws_config::SdkConfig {
    let regional = moto
        .sdk
        .to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build();
    match role {
        None => regional,
        Some(role) => {
            let provider = aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name("tests")
                .region(aws_config::Region::new(region.to_string()))
                .configure(&moto.sdk)
                .build()
                .await;
            regional
                .to_builder()
                .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                    provider,
                ))
                .build()
        }
    }
}

/// The power states of EC2 instances, RDS databases and clusters seen through `sdk`,
/// by id.
pub async fn states_with(sdk: &aws_config::SdkConfig) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let ec2 = aws_sdk_ec2::Client::new(sdk)
        .describe_instances()
        .send()
        .await
        .expect("describe");
    for i in ec2.reservations().iter().flat_map(|r| r.instances()) {
        let state = i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string());
        out.insert(
            i.instance_id().unwrap_or_default().to_string(),
            state.unwrap_or_default(),
        );
    }
    let dbs = aws_sdk_rds::Client::new(sdk)
        .describe_db_instances()
        .send()
        .await
        .expect("describe db");
    for d in dbs.db_instances() {
        out.insert(
            d.db_instance_identifier().unwrap_or_default().to_string(),
            d.db_instance_status().unwrap_or_default().to_string(),
        );
    }
    let clusters = aws_sdk_rds::Client::new(sdk)
        .describe_db_clusters()
        .send()
        .await
        .expect("describe clusters");
    for c in clusters.db_clusters() {
        out.insert(
            c.db_cluster_identifier().unwrap_or_default().to_string(),
            c.status().unwrap_or_default().to_string(),
        );
    }
    out
}

/// The first subnet of the emulator's default VPC.
pub async fn subnet(moto: &Moto) -> String {
    let vpcs = moto.ec2().describe_subnets().send().await.unwrap();
    vpcs.subnets()[0].subnet_id().unwrap().to_string()
}

/// An Auto Scaling group of `min/desired/max`, tagged; its instances come up at once.
pub async fn asg(moto: &Moto, name: &str, sizes: (i32, i32, i32), tags: &[(&str, String)]) {
    let ec2 = moto.ec2();
    let template = ec2
        .create_launch_template()
        .launch_template_name(format!("{name}-lt"))
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await;
    let id = match template {
        Ok(t) => t
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .expect("launch template id")
            .to_string(),
        // A create retried after a slow answer on a loaded machine finds its own
        // first attempt.
        Err(e) => {
            assert_eq!(
                e.as_service_error().and_then(|s| s.meta().code()),
                Some("InvalidLaunchTemplateName.AlreadyExistsException"),
                "create_launch_template: {e:?}"
            );
            ec2.describe_launch_templates()
                .launch_template_names(format!("{name}-lt"))
                .send()
                .await
                .expect("describe launch templates")
                .launch_templates()[0]
                .launch_template_id()
                .expect("launch template id")
                .to_string()
        }
    };
    let client = aws_sdk_autoscaling::Client::new(&moto.sdk);
    let mut create = client
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_id(id)
                .version("$Latest")
                .build(),
        )
        .min_size(sizes.0)
        .desired_capacity(sizes.1)
        .max_size(sizes.2)
        .vpc_zone_identifier(subnet(moto).await);
    for (k, v) in tags {
        create = create.tags(
            aws_sdk_autoscaling::types::Tag::builder()
                .key(*k)
                .value(v)
                .propagate_at_launch(false)
                .build(),
        );
    }
    create.send().await.expect("create ASG");
}

/// An Auto Scaling group's min, desired and max sizes and how many instances it has.
pub async fn asg_sizes(moto: &Moto, name: &str) -> (i32, i32, i32, usize) {
    let got = aws_sdk_autoscaling::Client::new(&moto.sdk)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .unwrap();
    let g = &got.auto_scaling_groups()[0];
    (
        g.min_size().unwrap(),
        g.desired_capacity().unwrap(),
        g.max_size().unwrap(),
        g.instances().len(),
    )
}

/// An ECS service of `desired` tasks, tagged, running.
pub async fn ecs_service(
    moto: &Moto,
    cluster: &str,
    name: &str,
    desired: i32,
    tags: &[(&str, String)],
) {
    ecs_service_pending(moto, cluster, name, desired, tags).await;
    // moto counts a new service's tasks as pending until its next update.
    aws_sdk_ecs::Client::new(&moto.sdk)
        .update_service()
        .cluster(cluster)
        .service(name)
        .desired_count(desired)
        .send()
        .await
        .unwrap();
}

/// An ECS service of `desired` tasks, tagged, whose tasks stay pending (moto keeps a
/// service's tasks pending until it is updated), as AWS keeps tasks it cannot place.
pub async fn ecs_service_pending(
    moto: &Moto,
    cluster: &str,
    name: &str,
    desired: i32,
    tags: &[(&str, String)],
) {
    let ecs = aws_sdk_ecs::Client::new(&moto.sdk);
    ecs.create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .unwrap();
    ecs.register_task_definition()
        .family("app")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("app")
                .image("nginx")
                .memory(128)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut create = ecs
        .create_service()
        .cluster(cluster)
        .service_name(name)
        .task_definition("app")
        .desired_count(desired);
    for (k, v) in tags {
        create = create.tags(aws_sdk_ecs::types::Tag::builder().key(*k).value(v).build());
    }
    create.send().await.expect("create service");
}

/// An SSM maintenance window of three hours on `schedule` (in `zone`, UTC without).
pub async fn maintenance_window(moto: &Moto, name: &str, schedule: &str, zone: Option<&str>) {
    aws_sdk_ssm::Client::new(&moto.sdk)
        .create_maintenance_window()
        .name(name)
        .schedule(schedule)
        .set_schedule_timezone(zone.map(str::to_string))
        .duration(3)
        .cutoff(1)
        .allow_unassociated_targets(true)
        .send()
        .await
        .expect("a maintenance window");
}

/// An ECS service's desired and running task counts.
pub async fn ecs_counts(moto: &Moto, cluster: &str, name: &str) -> (i32, i32) {
    let got = aws_sdk_ecs::Client::new(&moto.sdk)
        .describe_services()
        .cluster(cluster)
        .services(name)
        .send()
        .await
        .unwrap();
    let s = &got.services()[0];
    (s.desired_count(), s.running_count())
}
