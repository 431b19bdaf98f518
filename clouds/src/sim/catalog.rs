//! The simulator's catalog: which regions, zones and specs each simulated cloud accepts.
//!
//! It is a plain data value. [`SimCatalog::builtin`] is a small hand-written table with enough
//! regions for the seed demo (one MCIS of 18 VMs over AWS, Azure, GCP and Alibaba in 10 regions);
//! the provider adds the planner's catalog (one [`SimRegion`] per provider region, with the specs
//! offered there) through `SimCloud::with_more_regions`.

use serde::{Deserialize, Serialize};

use lifecycle::Cloud;

/// Regions, zones and specs the simulator accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimCatalog {
    /// Every region of every simulated cloud. Regions of a provider the simulator has no
    /// personality for are ignored.
    pub regions: Vec<SimRegion>,
}

/// One region of one cloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimRegion {
    /// Cloud name: `aws`, `azure`, `gcp`, `alibaba`, `openstack`, `cloudit` or `local`.
    pub provider: String,
    /// Region name in the cloud's spelling.
    pub region: String,
    /// Zones in the cloud's spelling. Empty means "the cloud's usual pattern": see
    /// [`SimRegion::zones_or_default`].
    #[serde(default)]
    pub zones: Vec<String>,
    /// Specs (instance types) offered in the region. Empty means any spec is accepted, which is
    /// only meant for catalogs that do not know the specs.
    #[serde(default)]
    pub specs: Vec<String>,
}

impl SimRegion {
    /// The region's zones; when none are listed, two or three zones named the way `cloud` names
    /// them (`us-east-1a`, `us-central1-a`, Azure's `1`, `2`, `3`, OpenStack's `nova`).
    pub fn zones_or_default(&self, cloud: Cloud) -> Vec<String> {
        if !self.zones.is_empty() {
            return self.zones.clone();
        }
        let r = &self.region;
        match cloud {
            Cloud::Aws => vec![format!("{r}a"), format!("{r}b")],
            Cloud::Gcp | Cloud::Alibaba => vec![format!("{r}-a"), format!("{r}-b")],
            Cloud::Azure => vec!["1".into(), "2".into(), "3".into()],
            Cloud::OpenStack => vec!["nova".into()],
            Cloud::Cloudit | Cloud::Local => vec![r.clone()],
        }
    }

    /// True if and only if `spec` is offered here (always true when no spec is listed).
    pub fn offers(&self, spec: &str) -> bool {
        self.specs.is_empty() || self.specs.iter().any(|s| s == spec)
    }
}

/// Builds one region of the built-in table.
fn region(provider: &str, region: &str, zones: &[&str], specs: &[&str]) -> SimRegion {
    SimRegion {
        provider: provider.to_string(),
        region: region.to_string(),
        zones: zones.iter().map(|z| z.to_string()).collect(),
        specs: specs.iter().map(|s| s.to_string()).collect(),
    }
}

const AWS_SPECS: &[&str] = &[
    "t3.micro",
    "t3.small",
    "t3.medium",
    "m5.large",
    "m5.xlarge",
    "c5.large",
];
const AZURE_SPECS: &[&str] = &[
    "Standard_B1s",
    "Standard_B2s",
    "Standard_D2s_v3",
    "Standard_D4s_v3",
    "Standard_F2s_v2",
];
const GCP_SPECS: &[&str] = &[
    "e2-small",
    "e2-medium",
    "n1-standard-1",
    "n2-standard-2",
    "n2-standard-4",
];
const ALIBABA_SPECS: &[&str] = &[
    "ecs.t5-lc1m2.small",
    "ecs.g6.large",
    "ecs.c6.large",
    "ecs.g7.large",
];
const OPENSTACK_SPECS: &[&str] = &["m1.tiny", "m1.small", "m1.medium", "m1.large"];
const CLOUDIT_SPECS: &[&str] = &["micro-1", "small-2", "medium-4", "large-8"];

impl SimCatalog {
    /// The built-in table: 5 AWS, 4 Azure, 4 GCP, 4 Alibaba regions, OpenStack's `RegionOne` and
    /// Cloudit's `kr-central`, each with a few realistic specs, and the `local` cloud's region
    /// `local`, which accepts any spec.
    pub fn builtin() -> SimCatalog {
        let abc = |r: &str, letters: &str| -> Vec<String> {
            letters.chars().map(|c| format!("{r}{c}")).collect()
        };
        let mut regions = Vec::new();
        for (r, letters) in [
            ("ap-northeast-2", "abcd"),
            ("us-east-1", "abcdef"),
            ("eu-west-1", "abc"),
            ("us-west-2", "abcd"),
            ("ap-southeast-1", "abc"),
        ] {
            let zones = abc(r, letters);
            let zones: Vec<&str> = zones.iter().map(String::as_str).collect();
            regions.push(region("aws", r, &zones, AWS_SPECS));
        }
        for r in ["koreacentral", "eastus", "westeurope", "japaneast"] {
            regions.push(region("azure", r, &["1", "2", "3"], AZURE_SPECS));
        }
        for (r, letters) in [
            ("asia-northeast3", "abc"),
            ("us-central1", "abcf"),
            ("europe-west1", "bcd"),
            ("asia-northeast1", "abc"),
        ] {
            let zones = abc(&format!("{r}-"), letters);
            let zones: Vec<&str> = zones.iter().map(String::as_str).collect();
            regions.push(region("gcp", r, &zones, GCP_SPECS));
        }
        regions.push(region(
            "alibaba",
            "ap-northeast-2",
            &["ap-northeast-2a", "ap-northeast-2b"],
            ALIBABA_SPECS,
        ));
        regions.push(region(
            "alibaba",
            "cn-hongkong",
            &["cn-hongkong-b", "cn-hongkong-c", "cn-hongkong-d"],
            ALIBABA_SPECS,
        ));
        regions.push(region(
            "alibaba",
            "ap-southeast-1",
            &["ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"],
            ALIBABA_SPECS,
        ));
        regions.push(region(
            "alibaba",
            "cn-beijing",
            &["cn-beijing-h", "cn-beijing-i", "cn-beijing-j"],
            ALIBABA_SPECS,
        ));
        regions.push(region("openstack", "RegionOne", &["nova"], OPENSTACK_SPECS));
        regions.push(region(
            "cloudit",
            "kr-central",
            &["kr-central-1"],
            CLOUDIT_SPECS,
        ));
        // The real `local` driver takes any region and spec; one region stands for it here.
        regions.push(region("local", "local", &["local"], &[]));
        SimCatalog { regions }
    }

    /// The region `region` of `provider`, if the catalog has it.
    pub fn region(&self, provider: &str, region: &str) -> Option<&SimRegion> {
        self.regions
            .iter()
            .find(|r| r.provider == provider && r.region == region)
    }

    /// The names of `provider`'s regions, in catalog order (for diagnostics).
    pub fn regions(&self, provider: &str) -> Vec<&str> {
        self.regions
            .iter()
            .filter(|r| r.provider == provider)
            .map(|r| r.region.as_str())
            .collect()
    }

    /// The specs offered in `provider`'s `region` (for diagnostics); empty when the region is
    /// unknown or accepts any spec.
    pub fn specs(&self, provider: &str, region: &str) -> Vec<&str> {
        self.region(provider, region)
            .map(|r| r.specs.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The distinct providers the catalog lists, in catalog order.
    pub fn providers(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for r in &self.regions {
            if !seen.contains(&r.provider.as_str()) {
                seen.push(&r.provider);
            }
        }
        seen
    }
}

impl Default for SimCatalog {
    /// [`SimCatalog::builtin`].
    fn default() -> SimCatalog {
        SimCatalog::builtin()
    }
}
