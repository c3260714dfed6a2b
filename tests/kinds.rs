//! The kinds that scale to zero (Auto Scaling groups, ECS services, EKS node groups),
//! Neptune clusters through the RDS API, EC2 members of an Auto Scaling group, and
//! hibernation, against the emulator.

mod common;

use common::*;
use instance_scheduler::fleet::Direction;
use instance_scheduler::plan::What;
use instance_scheduler::run::RunReport;
use instance_scheduler::store::Store;

const MIXED: &str = r#"{"ScheduleName":"Dev","TagValue":"dev","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00",
  "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"SVC","InstanceType":"ECS","Dependency":["DB"]},
            {"GroupName":"WORKERS","InstanceType":"ASG","Dependency":["SVC"]},{"GroupName":"NODES","InstanceType":"EKS","Dependency":["DB"]},
            {"GroupName":"GRAPH","InstanceType":"RDS"}]}"#;

fn groups(report: &RunReport, direction: Direction) -> Vec<String> {
    report
        .actions
        .iter()
        .filter(|a| a.direction == direction)
        .map(|a| a.group.clone())
        .collect()
}

fn dev(group: &str) -> Vec<(&'static str, String)> {
    vec![
        ("ScheduleName", "dev".into()),
        ("ScheduleGroupName", group.into()),
    ]
}

async fn node_group(
    moto: &Moto,
    cluster: &str,
    name: &str,
    sizes: (i32, i32, i32),
    tags: &[(&str, String)],
) {
    let eks = aws_sdk_eks::Client::new(&moto.sdk);
    let subnet = subnet(moto).await;
    eks.create_cluster()
        .name(cluster)
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(
            aws_sdk_eks::types::VpcConfigRequest::builder()
                .subnet_ids(&subnet)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut create = eks
        .create_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .node_role("arn:aws:iam::123456789012:role/nodes")
        .subnets(subnet)
        .scaling_config(
            aws_sdk_eks::types::NodegroupScalingConfig::builder()
                .min_size(sizes.0)
                .desired_size(sizes.1)
                .max_size(sizes.2)
                .build(),
        );
    for (k, v) in tags {
        create = create.tags(*k, v);
    }
    create.send().await.expect("create node group");
}

async fn eks_sizes(moto: &Moto, cluster: &str, name: &str) -> (i32, i32, i32) {
    let got = aws_sdk_eks::Client::new(&moto.sdk)
        .describe_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .send()
        .await
        .unwrap();
    let c = got.nodegroup().unwrap().scaling_config().unwrap();
    (
        c.min_size().unwrap(),
        c.desired_size().unwrap(),
        c.max_size().unwrap(),
    )
}

async fn neptune(moto: &Moto, id: &str, tags: &[(&str, String)]) {
    let mut create = moto
        .rds()
        .create_db_cluster()
        .db_cluster_identifier(id)
        .engine("neptune");
    for (k, v) in tags {
        create = create.tags(aws_sdk_rds::types::Tag::builder().key(*k).value(v).build());
    }
    create.send().await.expect("create neptune");
}

async fn cluster_status(moto: &Moto, id: &str) -> String {
    let got = moto
        .rds()
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .unwrap();
    got.db_clusters()[0].status().unwrap().to_string()
}

#[tokio::test]
async fn a_chain_of_database_service_group_and_nodes_stops_and_starts_back_to_its_sizes() {
    let moto = Moto::start().await;
    let db: Vec<(&str, &str)> = vec![("ScheduleName", "dev"), ("ScheduleGroupName", "DB")];
    rds_instance(&moto, "dev-db", &db).await;
    moto.rds()
        .start_db_instance()
        .db_instance_identifier("dev-db")
        .send()
        .await
        .unwrap();
    ecs_service(&moto, "apps", "api", 3, &dev("SVC")).await;
    asg(&moto, "workers", (1, 2, 4), &dev("WORKERS")).await;
    node_group(&moto, "k8s", "general", (1, 2, 5), &dev("NODES")).await;
    neptune(&moto, "graph", &dev("GRAPH")).await;

    // Monday 18:00: the stop, dependents first.
    let runner = moto.runner("2026-11-30T18:00:00Z").await;
    load_schedules(&runner.store, &[MIXED]).await;
    // The first sight of the schedule: it was running (as a person left it).
    runner.clock.set(at("2026-11-30T17:59:00Z"));
    runner.run(&[]).await.unwrap();
    runner.clock.set(at("2026-11-30T18:00:00Z"));
    let report = runner.run(&[]).await.unwrap();
    let stopped = groups(&report, Direction::Stop);
    let pos = |g: &str| position(&stopped, g);
    assert!(
        pos("WORKERS") < pos("SVC") && pos("SVC") < pos("DB") && pos("NODES") < pos("DB"),
        "{stopped:?}"
    );
    assert!(stopped.contains(&"GRAPH".to_string()));
    assert_eq!(asg_sizes(&moto, "workers").await, (0, 0, 0, 0));
    assert_eq!(ecs_counts(&moto, "apps", "api").await, (0, 0));
    assert_eq!(eks_sizes(&moto, "k8s", "general").await.1, 0);
    assert_eq!(states(&moto).await["dev-db"], "stopped");
    assert_eq!(cluster_status(&moto, "graph").await, "stopped");

    // The state is lost overnight: the sizes kept on the resources bring them back.
    let table = runner.store.tables().state.clone();
    let client = runner.store.client();
    let items = client.scan().table_name(&table).send().await.unwrap();
    for item in items.items() {
        client
            .delete_item()
            .table_name(&table)
            .key("Id", item["Id"].clone())
            .send()
            .await
            .unwrap();
    }
    assert!(
        runner
            .store
            .load_state()
            .await
            .unwrap()
            .state
            .schedules
            .is_empty()
    );
    runner.clock.set(at("2026-12-01T08:59:00Z"));
    runner.run(&[]).await.unwrap();
    runner.clock.set(at("2026-12-01T09:00:00Z"));
    let report = runner.run(&[]).await.unwrap();
    let started = groups(&report, Direction::Start);
    let pos = |g: &str| position(&started, g);
    assert!(
        pos("DB") < pos("SVC") && pos("SVC") < pos("WORKERS") && pos("DB") < pos("NODES"),
        "{started:?}"
    );
    assert!(!report.has_errors(), "{:?}", report.events);
    assert_eq!(asg_sizes(&moto, "workers").await, (1, 2, 4, 2));
    assert_eq!(ecs_counts(&moto, "apps", "api").await, (3, 3));
    assert_eq!(eks_sizes(&moto, "k8s", "general").await, (1, 2, 5));
    assert_eq!(cluster_status(&moto, "graph").await, "available");
}

const STUCK: &str = r#"{"ScheduleName":"Dev","TagValue":"dev","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00",
  "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"SVC","InstanceType":"ECS","Dependency":["DB"]},
            {"GroupName":"WORKERS","InstanceType":"ASG","Dependency":["SVC"]}]}"#;

/// Defect 2 of the core issue: a stop acted only on members that were fully up, so a
/// service whose tasks could not be placed was "starting" for ever and kept every
/// group it depends on running all night.
#[tokio::test]
async fn a_stop_reaches_a_service_whose_tasks_never_run() {
    let moto = Moto::start().await;
    let db: Vec<(&str, &str)> = vec![("ScheduleName", "dev"), ("ScheduleGroupName", "DB")];
    rds_instance(&moto, "dev-db", &db).await;
    moto.rds()
        .start_db_instance()
        .db_instance_identifier("dev-db")
        .send()
        .await
        .unwrap();
    // A service whose tasks stay pending, as AWS keeps tasks it cannot place.
    ecs_service_pending(&moto, "apps", "api", 2, &dev("SVC")).await;
    assert_eq!(ecs_counts(&moto, "apps", "api").await, (2, 0));
    // An Auto Scaling group that depends on it. (A group below its desired count
    // cannot be made here: moto replaces an instance put in standby or detached at
    // once; the core's own tests hold that case.)
    asg(&moto, "workers", (1, 2, 4), &dev("WORKERS")).await;

    let runner = moto.runner("2026-11-30T17:59:00Z").await;
    load_schedules(&runner.store, &[STUCK]).await;
    runner.run(&[]).await.unwrap();
    runner.clock.set(at("2026-11-30T18:00:00Z"));
    let report = runner.run(&[]).await.unwrap();
    let stopped = groups(&report, Direction::Stop);
    assert_eq!(stopped, ["WORKERS", "SVC", "DB"], "{:?}", report.events);
    assert_eq!(ecs_counts(&moto, "apps", "api").await, (0, 0));
    assert_eq!(asg_sizes(&moto, "workers").await.1, 0);
    assert_eq!(states(&moto).await["dev-db"], "stopped");
    assert!(!report.has_errors(), "{:?}", report.events);
}

#[tokio::test]
async fn a_group_found_at_zero_with_no_size_known_is_reported_not_restored_to_zero() {
    let moto = Moto::start().await;
    asg(&moto, "empty", (0, 0, 0), &dev("WORKERS")).await;
    let runner = moto.runner("2026-11-30T09:00:00Z").await;
    load_schedules(
        &runner.store,
        &[r#"{"ScheduleName":"Dev","TagValue":"dev","StartTime":"09:00","StopTime":"18:00","Groups":[{"GroupName":"WORKERS","InstanceType":"ASG"}]}"#],
    )
    .await;
    let report = runner.run(&[]).await.unwrap();
    assert!(report.actions.is_empty());
    let errors: Vec<String> = report
        .events
        .iter()
        .filter_map(|e| match &e.what {
            What::Error { message } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("empty (at size 0 with no earlier size known")),
        "{errors:?}"
    );
    assert_eq!(asg_sizes(&moto, "empty").await, (0, 0, 0, 0));
}

#[tokio::test]
async fn an_auto_scaling_groups_instance_tagged_for_a_schedule_is_reported_and_left_alone() {
    let moto = Moto::start().await;
    asg(&moto, "web", (1, 1, 1), &[]).await;
    // Someone tags the group's instance for a schedule.
    let member = moto.ec2().describe_instances().send().await.unwrap();
    let id = member.reservations()[0].instances()[0]
        .instance_id()
        .unwrap()
        .to_string();
    moto.ec2()
        .create_tags()
        .resources(&id)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("ScheduleName")
                .value("dev")
                .build(),
        )
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("ScheduleGroupName")
                .value("APP")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let runner = moto.runner("2026-11-30T18:00:00Z").await;
    load_schedules(
        &runner.store,
        &[r#"{"ScheduleName":"Dev","TagValue":"dev","StartTime":"09:00","StopTime":"18:00","Groups":[{"GroupName":"APP","InstanceType":"EC2"}]}"#],
    )
    .await;
    runner.clock.set(at("2026-11-30T17:59:00Z"));
    let first = runner.run(&[]).await.unwrap();
    runner.clock.set(at("2026-11-30T18:00:00Z"));
    let report = runner.run(&[]).await.unwrap();
    assert!(report.actions.is_empty(), "{:?}", report.actions);
    assert_eq!(states(&moto).await[&id], "running");
    let said: Vec<String> = first
        .events
        .iter()
        .filter_map(|e| match &e.what {
            What::Error { message } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert!(
        said.iter()
            .any(|m| m.contains(&format!("{id}: it belongs to Auto Scaling group web"))),
        "{said:?}"
    );
}

#[tokio::test]
async fn a_hibernating_group_hibernates_what_can_and_stops_the_rest() {
    let moto = Moto::start().await;
    let sleepy = moto
        .ec2()
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .hibernation_options(
            aws_sdk_ec2::types::HibernationOptionsRequest::builder()
                .configured(true)
                .build(),
        )
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("ScheduleName")
                        .value("dev")
                        .build(),
                )
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("ScheduleGroupName")
                        .value("APP")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let sleepy = sleepy.instances()[0].instance_id().unwrap().to_string();
    let plain = ec2_instances(
        &moto,
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "APP")],
        1,
    )
    .await;
    moto.ec2()
        .start_instances()
        .instance_ids(&plain[0])
        .send()
        .await
        .unwrap();
    let runner = moto.runner("2026-11-30T17:59:00Z").await;
    load_schedules(
        &runner.store,
        &[r#"{"ScheduleName":"Dev","TagValue":"dev","StartTime":"09:00","StopTime":"18:00","Groups":[{"GroupName":"APP","InstanceType":"EC2","Hibernate":true}]}"#],
    )
    .await;
    runner.run(&[]).await.unwrap();
    runner.clock.set(at("2026-11-30T18:00:00Z"));
    moto.record().await;
    let report = runner.run(&[]).await.unwrap();
    let requests = moto.recorded_requests().await;
    let stops: Vec<String> = requests
        .iter()
        .map(request_body)
        .filter(|b| b.contains("Action=StopInstances"))
        .collect();
    assert_eq!(stops.len(), 2, "{stops:?}");
    assert!(
        stops
            .iter()
            .any(|b| b.contains("Hibernate=true") && b.contains(&sleepy)),
        "{stops:?}"
    );
    assert!(
        stops
            .iter()
            .any(|b| !b.contains("Hibernate=true") && b.contains(&plain[0])),
        "{stops:?}"
    );
    assert!(
        report
            .events
            .iter()
            .any(|e| matches!(&e.what, What::Notice { message }
        if message.contains("not configured for hibernation; stopped normally")))
    );
    let s = states(&moto).await;
    assert_eq!(s[&sleepy], "stopped");
    assert_eq!(s[&plain[0]], "stopped");
}

#[tokio::test]
async fn each_kind_in_use_costs_an_idle_run_one_listing_at_most() {
    let moto = Moto::start().await;
    ecs_service(&moto, "apps", "api", 1, &dev("SVC")).await;
    asg(&moto, "workers", (1, 1, 1), &dev("WORKERS")).await;
    let runner = moto.runner("2026-11-30T12:00:00Z").await;
    let ec2_only = r#"{"ScheduleName":"Ops","TagValue":"ops","StartTime":"09:00","StopTime":"18:00","Groups":[{"GroupName":"APP","InstanceType":"EC2"}]}"#;
    load_schedules(&runner.store, &[ec2_only]).await;
    runner.run(&[]).await.unwrap();
    moto.record().await;
    runner.run(&[]).await.unwrap();
    let without = moto.recorded().await;
    load_schedules(&runner.store, &[MIXED]).await;
    runner.run(&[]).await.unwrap();
    moto.record().await;
    runner.run(&[]).await.unwrap();
    let with = moto.recorded().await;
    // Without the new kinds in use, they cost nothing: not even their listings.
    for op in [
        "DescribeAutoScalingGroups",
        "DescribeServices",
        "ListServices",
        "DescribeDBInstances",
    ] {
        assert_eq!(without.get(op), None, "{without:?}");
    }
    // With them, one listing each: Auto Scaling one call; ECS its clusters, each
    // cluster's services and one description per ten services; RDS (for DB and
    // GRAPH) its instances and clusters; no call per resource.
    assert_eq!(with.get("DescribeAutoScalingGroups"), Some(&1), "{with:?}");
    assert_eq!(with.get("ListServices"), Some(&1), "{with:?}");
    assert_eq!(with.get("DescribeServices"), Some(&1), "{with:?}");
    assert_eq!(with.get("DescribeDBInstances"), Some(&1), "{with:?}");
    assert_eq!(with.get("DescribeDBClusters"), Some(&1), "{with:?}");
    assert_eq!(
        with.get("DescribeInstances"),
        without.get("DescribeInstances")
    );
}

/// Where group `g` stands among the groups acted on, in order.
fn position(groups: &[String], g: &str) -> usize {
    groups
        .iter()
        .position(|x| x == g)
        .unwrap_or_else(|| panic!("{g} in {groups:?}"))
}
