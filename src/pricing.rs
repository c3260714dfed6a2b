//! Prices: the on-demand hourly list price of each EC2 instance type (Linux, shared
//! tenancy) and RDS instance class (engine and deployment) in each Region, Fargate's
//! vCPU-hour and GB-hour (Linux/x86), and EBS volumes' GB-month by type, from the
//! AWS Price List Query API (`pricing:GetProducts`), cached in the state table for
//! 30 days (side items `price#REGION#…`, read with the run state at no request).
//!
//! A run never fetches a price: the weekly summary and `schedctl report` fetch those
//! missing or older than 30 days, and the run's metrics use what is cached. A
//! resource's own `SchedulerHourlyCost` tag (dollars an hour: reserved, spot or
//! discounted capacity) wins over the list price. Every figure is an estimate: list
//! prices, no taxes, no credits, and storage (which bills while stopped) apart.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_pricing::types::{Filter, FilterType};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::fleet::{Kind, Size};
use crate::store::{SideItems, Store};
use scheduler_core::history::Seen;

/// How long a fetched price is trusted before it is fetched again.
pub const CACHE_DAYS: i64 = 30;

/// What one list price is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PriceKey {
    /// The Region (`us-east-1`).
    pub region: String,
    /// `ec2` or `rds`.
    pub service: String,
    /// The instance type or DB class.
    pub class: String,
    /// The RDS engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// RDS Multi-AZ.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multi_az: bool,
}

impl PriceKey {
    /// The list price a resource of `kind` and `size` in `region` has, if the Price
    /// List API has one: EC2 instances, Auto Scaling groups and EKS node groups by
    /// their instance type; RDS databases by class, engine and deployment. Aurora
    /// clusters and ECS services have no one key (an ECS service on Fargate has two,
    /// [`PriceBook::keys_of`]; otherwise its `SchedulerHourlyCost` tag prices it).
    pub fn of(region: &str, kind: Kind, size: &Size) -> Option<PriceKey> {
        let service = match kind {
            Kind::Ec2 | Kind::Asg | Kind::Eks => "ec2",
            Kind::Rds => "rds",
            Kind::Aurora | Kind::Ecs => return None,
        };
        if size.class.is_empty() || size.class == "fargate" {
            return None;
        }
        Some(PriceKey {
            region: region.to_string(),
            service: service.to_string(),
            class: size.class.clone(),
            engine: (service == "rds").then(|| size.engine.clone()).flatten(),
            multi_az: service == "rds" && size.multi_az,
        })
    }

    /// The two Fargate prices in `region` (Linux, x86): a vCPU-hour and a GB-hour.
    pub fn fargate(region: &str) -> [PriceKey; 2] {
        [FARGATE_VCPU, FARGATE_GB].map(|class| PriceKey {
            region: region.to_string(),
            service: "ecs".into(),
            class: class.into(),
            engine: None,
            multi_az: false,
        })
    }

    /// The price of a GB-month of EBS volumes of `volume_type` (`gp3`) in `region`.
    pub fn ebs(region: &str, volume_type: &str) -> PriceKey {
        PriceKey {
            region: region.to_string(),
            service: "ebs".into(),
            class: volume_type.to_string(),
            engine: None,
            multi_az: false,
        }
    }

    /// The side item that caches it.
    pub fn id(&self) -> String {
        format!(
            "price#{}#{}#{}#{}#{}",
            self.region,
            self.service,
            self.class,
            self.engine.as_deref().unwrap_or("-"),
            if self.multi_az {
                "multi-az"
            } else {
                "single-az"
            }
        )
    }
}

impl std::fmt::Display for PriceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.region, self.class)?;
        if let Some(e) = &self.engine {
            write!(f, " {e}")?;
        }
        if self.multi_az {
            f.write_str(" multi-AZ")?;
        }
        Ok(())
    }
}

/// The Price List's usage type of a Fargate vCPU-hour (Linux, x86), after its
/// Region's prefix (`USE1-Fargate-vCPU-Hours:perCPU`).
pub const FARGATE_VCPU: &str = "Fargate-vCPU-Hours:perCPU";
/// The same for a GB-hour of memory (`USE1-Fargate-GB-Hours`).
pub const FARGATE_GB: &str = "Fargate-GB-Hours";

/// Hours in the month the Price List's GB-month means (365 × 24 / 12).
pub const HOURS_A_MONTH: f64 = 730.0;

/// A cached price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// What it is for.
    pub key: PriceKey,
    /// Dollars an hour; `None`: the API has no such product.
    pub hourly: Option<f64>,
    /// When it was fetched.
    pub fetched: DateTime<Utc>,
}

/// Where a resource's hourly price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The on-demand list price.
    List,
    /// Its `SchedulerHourlyCost` tag.
    Tag,
}

/// The prices known, by key.
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    /// The Region of resources whose id names none (the function's own).
    pub home: String,
    prices: BTreeMap<PriceKey, Price>,
    /// Prices by class alone, in any Region (a simulation's `--prices` file).
    flat: BTreeMap<String, f64>,
}

impl PriceBook {
    /// The prices cached among the state table's side items.
    pub fn from_side(home: &str, side: &SideItems) -> PriceBook {
        let prices = side
            .iter()
            .filter(|(id, _)| id.starts_with("price#"))
            .filter_map(|(_, json)| serde_json::from_str::<Price>(json).ok())
            .map(|p| (p.key.clone(), p))
            .collect();
        PriceBook {
            home: home.to_string(),
            prices,
            flat: BTreeMap::new(),
        }
    }

    /// Prices by instance type or DB class alone (`{"m5.large": 0.096}`), in every
    /// Region: what a simulation is told to assume.
    pub fn flat(prices: BTreeMap<String, f64>) -> PriceBook {
        PriceBook {
            flat: prices,
            ..PriceBook::default()
        }
    }

    /// The Region of a resource: the one its id names, else the home Region.
    pub fn region_of<'a>(&'a self, id: &'a str) -> &'a str {
        id.rsplit_once('@')
            .and_then(|(_, place)| place.split_once('/'))
            .map_or(self.home.as_str(), |(_, region)| region)
    }

    /// The price key of a resource the history saw.
    pub fn key_of(&self, id: &str, seen: &Seen) -> Option<PriceKey> {
        PriceKey::of(self.region_of(id), seen.kind, seen.size.as_ref()?)
    }

    /// The list prices a resource needs: its [`PriceBook::key_of`], or, for an ECS
    /// service on Fargate whose task's size is known, the vCPU-hour and GB-hour.
    pub fn keys_of(&self, id: &str, seen: &Seen) -> Vec<PriceKey> {
        if let Some((_, _)) = fargate_task(seen) {
            return PriceKey::fargate(self.region_of(id)).to_vec();
        }
        self.key_of(id, seen).into_iter().collect()
    }

    fn listed(&self, key: &PriceKey) -> Option<f64> {
        self.prices.get(key).and_then(|p| p.hourly)
    }

    /// Dollars a GB-month of EBS volumes of `volume_type` in `region`, when listed.
    pub fn per_gb_month(&self, region: &str, volume_type: &str) -> Option<f64> {
        self.listed(&PriceKey::ebs(region, volume_type))
    }

    /// Dollars an hour for one of the resource (multiply by its count), and where
    /// the figure came from; `None` when nothing prices it. An ECS service on
    /// Fargate is priced per task: vCPU × the vCPU-hour + GB × the GB-hour.
    pub fn hourly(&self, id: &str, seen: &Seen) -> Option<(f64, Source)> {
        if let Some(tag) = &seen.hourly
            && let Ok(v) = tag.trim().trim_start_matches('$').parse::<f64>()
            && v.is_finite()
            && v >= 0.0
        {
            return Some((v, Source::Tag));
        }
        if let Some(v) = seen
            .size
            .as_ref()
            .and_then(|size| self.flat.get(&size.class))
        {
            return Some((*v, Source::List));
        }
        if let Some((vcpu, gb)) = fargate_task(seen) {
            let [per_vcpu, per_gb] = PriceKey::fargate(self.region_of(id));
            let hourly = vcpu * self.listed(&per_vcpu)? + gb * self.listed(&per_gb)?;
            return Some((hourly, Source::List));
        }
        let key = self.key_of(id, seen)?;
        self.prices
            .get(&key)
            .and_then(|p| p.hourly)
            .map(|v| (v, Source::List))
    }

    /// The keys `resources` need that are not cached or older than [`CACHE_DAYS`].
    pub fn stale<'a>(
        &self,
        resources: impl IntoIterator<Item = (&'a str, &'a Seen)>,
        now: DateTime<Utc>,
    ) -> BTreeSet<PriceKey> {
        let keys: Vec<PriceKey> = resources
            .into_iter()
            .filter(|(_, seen)| seen.hourly.is_none())
            .flat_map(|(id, seen)| self.keys_of(id, seen))
            .collect();
        self.stale_keys(keys, now)
    }

    /// Those of `keys` not cached or older than [`CACHE_DAYS`].
    pub fn stale_keys(
        &self,
        keys: impl IntoIterator<Item = PriceKey>,
        now: DateTime<Utc>,
    ) -> BTreeSet<PriceKey> {
        keys.into_iter()
            .filter(|k| {
                self.prices
                    .get(k)
                    .is_none_or(|p| now - p.fetched > Duration::days(CACHE_DAYS))
            })
            .collect()
    }

    /// Adds fetched prices.
    pub fn add(&mut self, prices: impl IntoIterator<Item = Price>) {
        for p in prices {
            self.prices.insert(p.key.clone(), p);
        }
    }
}

/// A Fargate task's vCPU and GB of memory, when the resource is an ECS service on
/// Fargate whose task definition's size is known.
fn fargate_task(seen: &Seen) -> Option<(f64, f64)> {
    let size = seen.size.as_ref()?;
    if seen.kind != Kind::Ecs || size.class != "fargate" {
        return None;
    }
    Some((
        f64::from(size.cpu_units?) / 1024.0,
        f64::from(size.memory_mib?) / 1024.0,
    ))
}

/// The Price List Query API could not answer.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the price of {key} from the Price List API: {message}")]
pub struct PriceError {
    /// What was asked for.
    pub key: PriceKey,
    /// The service's error.
    pub message: String,
}

/// The Price List Query API. It answers in us-east-1 (also eu-central-1 and
/// ap-south-1) for every Region.
#[derive(Debug, Clone)]
pub struct PriceList {
    client: aws_sdk_pricing::Client,
}

/// The Region the Price List Query API is asked in.
pub const PRICING_REGION: &str = "us-east-1";

impl PriceList {
    /// A client on `sdk`, in [`PRICING_REGION`].
    pub fn new(sdk: &aws_config::SdkConfig) -> PriceList {
        let config = aws_sdk_pricing::config::Builder::from(sdk)
            .region(aws_sdk_pricing::config::Region::new(PRICING_REGION))
            .build();
        PriceList {
            client: aws_sdk_pricing::Client::from_conf(config),
        }
    }

    /// The on-demand price of `key` (an hour; a GB-month for EBS), `None` when the
    /// API lists no such product.
    pub async fn fetch(&self, key: &PriceKey) -> Result<Option<f64>, PriceError> {
        let filter = |kind: FilterType, field: &str, value: &str| {
            Filter::builder()
                .r#type(kind)
                .field(field)
                .value(value)
                .build()
        };
        let term = |field: &str, value: &str| filter(FilterType::TermMatch, field, value);
        let mut filters = vec![term("regionCode", &key.region)];
        // Which product of the answer is the one: Fargate's usage types differ by a
        // Region prefix (`USE1-`), and a CONTAINS filter also matches their Spot
        // twins (`USE1-SpotUsage-Fargate-…`); the exact one is kept.
        let mut usage_type: Option<&str> = None;
        let service = if key.service == "ecs" {
            filters.push(filter(FilterType::Contains, "usagetype", &key.class));
            usage_type = Some(&key.class);
            "AmazonECS"
        } else if key.service == "ebs" {
            filters.push(term("productFamily", "Storage"));
            filters.push(term("volumeApiName", &key.class));
            "AmazonEC2"
        } else if key.service == "rds" {
            filters.push(term("instanceType", &key.class));
            filters.push(term(
                "deploymentOption",
                if key.multi_az {
                    "Multi-AZ"
                } else {
                    "Single-AZ"
                },
            ));
            if let Some(engine) = key.engine.as_deref().and_then(engine_name) {
                filters.push(term("databaseEngine", engine));
            }
            "AmazonRDS"
        } else {
            filters.push(term("instanceType", &key.class));
            for (field, value) in [
                ("operatingSystem", "Linux"),
                ("tenancy", "Shared"),
                ("preInstalledSw", "NA"),
                ("capacitystatus", "Used"),
            ] {
                filters.push(term(field, value));
            }
            "AmazonEC2"
        };
        let failed = |message: String| PriceError {
            key: key.clone(),
            message,
        };
        let filters: Vec<Filter> = filters
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| failed(e.to_string()))?;
        let answer = self
            .client
            .get_products()
            .service_code(service)
            .set_filters(Some(filters))
            .format_version("aws_v1")
            .max_results(if usage_type.is_some() { 100 } else { 10 })
            .send()
            .await
            .map_err(|e| failed(crate::cloud::aws::error_text(&e)))?;
        Ok(answer
            .price_list()
            .iter()
            .find_map(|p| match key.service.as_str() {
                "ecs" => on_demand_price(p, usage_type, |_| true),
                "ebs" => on_demand_price(p, None, |u| u == "GB-Mo"),
                _ => on_demand_hourly(p),
            }))
    }
}

/// The Price List's engine names.
fn engine_name(engine: &str) -> Option<&'static str> {
    Some(match engine {
        "postgres" => "PostgreSQL",
        "mysql" => "MySQL",
        "mariadb" => "MariaDB",
        "aurora-postgresql" => "Aurora PostgreSQL",
        "aurora-mysql" | "aurora" => "Aurora MySQL",
        e if e.starts_with("oracle") => "Oracle",
        e if e.starts_with("sqlserver") => "SQL Server",
        _ => return None,
    })
}

/// The first on-demand hourly USD price of one product of a `GetProducts` answer
/// (each is a JSON document: `terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD`).
pub fn on_demand_hourly(product: &str) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(product).ok()?;
    let terms = v.get("terms")?.get("OnDemand")?.as_object()?;
    terms.values().find_map(|term| {
        term.get("priceDimensions")?
            .as_object()?
            .values()
            .filter(|d| d.get("unit").and_then(|u| u.as_str()) == Some("Hrs"))
            .find_map(|d| d.get("pricePerUnit")?.get("USD")?.as_str()?.parse().ok())
    })
}

/// The first on-demand USD price of one product of a `GetProducts` answer whose
/// unit `unit` accepts, when its `product.attributes.usagetype` is `usage_type`
/// after the Region's prefix (`USE1-Fargate-GB-Hours` for `Fargate-GB-Hours`), if
/// one is asked for.
pub fn on_demand_price(
    product: &str,
    usage_type: Option<&str>,
    unit: impl Fn(&str) -> bool,
) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(product).ok()?;
    if let Some(wanted) = usage_type {
        let listed = v
            .get("product")?
            .get("attributes")?
            .get("usagetype")?
            .as_str()?;
        let bare = listed.split_once('-').map_or(listed, |(_, rest)| rest);
        if bare != wanted {
            return None;
        }
    }
    let terms = v.get("terms")?.get("OnDemand")?.as_object()?;
    terms.values().find_map(|term| {
        term.get("priceDimensions")?
            .as_object()?
            .values()
            .filter(|d| d.get("unit").and_then(|u| u.as_str()).is_some_and(&unit))
            .find_map(|d| d.get("pricePerUnit")?.get("USD")?.as_str()?.parse().ok())
    })
}

/// Fetches the prices `keys` from `list` and caches them in the state table; a price
/// that cannot be fetched is logged and left out. Returns what was fetched.
pub async fn refresh<S: Store>(
    store: &S,
    list: &PriceList,
    keys: &BTreeSet<PriceKey>,
    now: DateTime<Utc>,
) -> Vec<Price> {
    let mut fetched = Vec::new();
    for key in keys {
        match list.fetch(key).await {
            Ok(hourly) => fetched.push(Price {
                key: key.clone(),
                hourly,
                fetched: now,
            }),
            Err(e) => tracing::warn!(action = "prices", "{e}"),
        }
    }
    let side: Vec<(String, String)> = fetched
        .iter()
        .filter_map(|p| Some((p.key.id(), serde_json::to_string(p).ok()?)))
        .collect();
    if !side.is_empty()
        && let Err(e) = store.record(&[], &side).await
    {
        tracing::warn!(action = "prices", "prices fetched but not cached: {e}");
    }
    fetched
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_on_demand_hourly_price_is_read_from_a_product_document() {
        let product = r#"{"product":{"sku":"X"},"terms":{"OnDemand":{"X.JRTCKXETXF":{"priceDimensions":
          {"X.JRTCKXETXF.6YS6EN2CT7":{"unit":"Hrs","pricePerUnit":{"USD":"0.0960000000"}}}}}}}"#;
        assert_eq!(on_demand_hourly(product), Some(0.096));
        assert_eq!(on_demand_hourly("{}"), None);
    }

    #[test]
    fn a_fargate_task_is_priced_by_its_vcpu_and_memory_and_spot_is_not_taken_for_it() {
        let product = |usage: &str, unit: &str, usd: &str| {
            serde_json::json!({
                "product": {"productFamily": "Compute", "sku": "S",
                            "attributes": {"usagetype": usage, "regionCode": "us-east-1"}},
                "terms": {"OnDemand": {"S.T": {"priceDimensions": {"S.T.D": {
                    "unit": unit, "pricePerUnit": {"USD": usd}}}}}}
            })
            .to_string()
        };
        let vcpu = product("USE1-Fargate-vCPU-Hours:perCPU", "hours", "0.0404800000");
        let spot = product(
            "USE1-SpotUsage-Fargate-vCPU-Hours:perCPU",
            "hours",
            "0.0121",
        );
        assert_eq!(
            on_demand_price(&vcpu, Some(FARGATE_VCPU), |_| true),
            Some(0.04048)
        );
        assert_eq!(on_demand_price(&spot, Some(FARGATE_VCPU), |_| true), None);

        let seen: Seen = serde_json::from_value(serde_json::json!({
            "up": true, "since": "2026-12-21T00:00:00Z", "cause": "schedule", "group": "WEB",
            "kind": "ecs", "size": {"class": "fargate", "task": "web:3", "cpu_units": 512,
            "memory_mib": 1024}, "count": 2
        }))
        .unwrap();
        let mut book = PriceBook {
            home: "us-east-1".into(),
            ..PriceBook::default()
        };
        assert_eq!(book.keys_of("c/web", &seen).len(), 2);
        let [per_vcpu, per_gb] = PriceKey::fargate("us-east-1");
        book.add([
            Price {
                key: per_vcpu,
                hourly: Some(0.04048),
                fetched: Utc::now(),
            },
            Price {
                key: per_gb,
                hourly: Some(0.004445),
                fetched: Utc::now(),
            },
        ]);
        // Per task: 0.5 vCPU and 1 GB.
        let (p, src) = book.hourly("c/web", &seen).unwrap();
        assert!((p - (0.5 * 0.04048 + 0.004445)).abs() < 1e-12, "{p}");
        assert_eq!(src, Source::List);
    }

    #[test]
    fn a_tag_wins_over_the_list_price_and_places_name_their_region() {
        let seen: Seen = serde_json::from_value(serde_json::json!({
            "up": true, "since": "2026-12-21T00:00:00Z", "cause": "schedule", "group": "APP",
            "kind": "ec2", "size": {"class": "m5.large"}, "count": 1
        }))
        .unwrap();
        let key = PriceKey::of("us-east-1", Kind::Ec2, &Size::class("m5.large")).unwrap();
        let mut book = PriceBook {
            home: "us-east-1".into(),
            ..PriceBook::default()
        };
        book.add([Price {
            key: key.clone(),
            hourly: Some(0.096),
            fetched: Utc::now(),
        }]);
        assert_eq!(book.hourly("i-1", &seen), Some((0.096, Source::List)));
        assert_eq!(book.region_of("i-1@222222222222/eu-west-1"), "eu-west-1");
        assert!(book.hourly("i-1@222222222222/eu-west-1", &seen).is_none());
        let tagged = Seen {
            hourly: Some("0.031".into()),
            ..seen
        };
        assert_eq!(book.hourly("i-1", &tagged), Some((0.031, Source::Tag)));
    }
}
