//! Importers for the public catalog formats collected in `shared/catalog/` (see its README).
//!
//! | source | gives |
//! |---|---|
//! | CB-Tumblebug `cloudinfo.yaml` | regions of every provider with display name and coordinates |
//! | CB-Tumblebug `cloudlocation.csv` (v0.8.0) | coordinates of older region names missing above |
//! | CB-Tumblebug `cloudlatencymap.csv` | measured, directed RTTs between about 110 regions |
//! | libcloud `ec2_instance_types.json` | AWS shapes: vCPU, memory, GPU count, processor (arch) |
//! | libcloud `pricing.json` `ec2_linux` | AWS on-demand prices in 35 regions |
//! | libcloud `pricing.json` `azure_linux` | Azure on-demand prices in 46 regions (shapes joined from SkyPilot) |
//! | libcloud `pricing.json` `gce_instances` | GCP per-vCPU and per-GiB prices: predefined types derived |
//! | SkyPilot `*_vms.csv` | shapes, GPU model and count, on-demand and spot prices per region |
//! | CB-Tumblebug `cloudspec.csv` (v0.8.0) | prices and benchmark scores; the only source for Alibaba, Tencent, IBM |
//!
//! Precedence, so a merge never depends on file order: on-demand price from libcloud (dated
//! 2025-03-02) when it has one, else SkyPilot, else CB-Tumblebug's 2023 list; spot price from
//! SkyPilot only (the highest zone quote of the region, so the planned cost holds in whichever
//! zone the cloud picks; an AWS quote equal to the on-demand price is a fill-in and dropped);
//! shapes from libcloud's EC2 table, else SkyPilot, else the providers' public naming rules
//! (Alibaba `ecs.g6.xlarge`, Tencent `S5.MEDIUM4`, IBM `bx2-2x8`, GCP predefined types);
//! performance scores from CB-Tumblebug for the exact (provider, region, spec).
//!
//! Regions are matched across sources by `provider-region` in lower case, the latency matrix's
//! spelling (`aws` + `ap-northeast-2` is `aws-ap-northeast-2`); no fuzzy matching. Everything
//! skipped or derived is counted in [`CatalogInfo::notes`].

use super::yaml;
use super::{Arch, Catalog, CatalogError, CatalogInfo, MeasuredRtt, Offer, Region, RegionKey};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Builds a catalog from a directory in the layout of `shared/catalog/` (`tumblebug/`,
/// `tumblebug/v0.8.0/`, `libcloud/`, `skypilot/`) or with the same files side by side. Every
/// file is optional, but the result needs regions with coordinates and at least one offer.
pub fn import_dir(dir: &Path) -> Result<Catalog, CatalogError> {
    let mut imp = Importer::default();
    let find = |names: &[&str]| -> Option<PathBuf> {
        names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
    };

    if let Some(p) = find(&["tumblebug/cloudinfo.yaml", "cloudinfo.yaml"]) {
        imp.cloudinfo(&p)?;
    }
    if let Some(p) = find(&[
        "tumblebug/v0.8.0/cloudlocation.csv",
        "tumblebug/cloudlocation.csv",
        "cloudlocation.csv",
    ]) {
        imp.cloudlocation(&p)?;
    }
    if let Some(p) = find(&["tumblebug/cloudlatencymap.csv", "cloudlatencymap.csv"]) {
        imp.latency(&p)?;
    }
    if let Some(p) = find(&[
        "libcloud/ec2_instance_types.json",
        "ec2_instance_types.json",
    ]) {
        imp.ec2_types(&p)?;
    }
    // SkyPilot before libcloud prices: Azure prices join SkyPilot's shapes by name.
    let sky_dir = [dir.join("skypilot"), dir.to_path_buf()];
    for d in sky_dir.iter().filter(|d| d.is_dir()) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(|e| CatalogError::io(d, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with("_vms.csv"))
            })
            .collect();
        files.sort();
        for p in files {
            imp.skypilot(&p)?;
        }
    }
    if let Some(p) = find(&["libcloud/pricing.json", "pricing.json"]) {
        imp.libcloud_pricing(&p)?;
    }
    if let Some(p) = find(&[
        "tumblebug/v0.8.0/cloudspec.csv",
        "tumblebug/cloudspec.csv",
        "cloudspec.csv",
    ]) {
        imp.cloudspec(&p)?;
    }
    imp.finish(dir)
}

/// Price sources in increasing precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PriceSource {
    Tumblebug,
    LibcloudDerived,
    SkyPilot,
    Libcloud,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ShapeSource {
    NamingRule,
    SkyPilot,
    LibcloudTable,
}

#[derive(Clone, Debug)]
struct Shape {
    vcpu: u32,
    memory_gib: f64,
    arch: Arch,
    gpu_model: Option<String>,
    gpu_count: u32,
    source: ShapeSource,
}

#[derive(Clone, Debug, Default)]
struct Partial {
    price: Option<(PriceSource, f64)>,
    spot: Option<f64>,
    performance: Option<f64>,
}

#[derive(Default)]
struct Importer {
    regions: BTreeMap<RegionKey, Region>,
    measured: Vec<MeasuredRtt>,
    /// (provider, spec) -> shape.
    shapes: BTreeMap<(String, String), Shape>,
    /// (provider, region, spec) -> prices.
    offers: BTreeMap<(String, String, String), Partial>,
    /// Azure: normalised libcloud size name -> SkyPilot spelling.
    azure_names: BTreeMap<String, String>,
    sources: Vec<String>,
    notes: Vec<String>,
}

fn read(p: &Path) -> Result<Vec<u8>, CatalogError> {
    std::fs::read(p).map_err(|e| CatalogError::io(p, e))
}

fn file_label(p: &Path) -> String {
    let parts: Vec<_> = p.components().rev().take(2).collect();
    let mut v: Vec<String> = parts
        .iter()
        .rev()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if v.len() == 2 && !["tumblebug", "libcloud", "skypilot", "v0.8.0"].contains(&v[0].as_str()) {
        v.remove(0);
    }
    v.join("/")
}

fn csv_reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(bytes)
}

/// Column positions by header name, so column order may differ between files.
struct Cols(BTreeMap<String, usize>);

impl Cols {
    fn new(h: &csv::StringRecord) -> Cols {
        Cols(
            h.iter()
                .enumerate()
                .map(|(i, n)| (n.trim().trim_start_matches('\u{feff}').to_string(), i))
                .collect(),
        )
    }
    fn need(&self, p: &Path, name: &str) -> Result<usize, CatalogError> {
        self.0
            .get(name)
            .copied()
            .ok_or_else(|| CatalogError::parse(p, format!("missing column `{name}`")))
    }
    fn get(&self, name: &str) -> Option<usize> {
        self.0.get(name).copied()
    }
}

fn field(r: &csv::StringRecord, i: usize) -> &str {
    r.get(i).unwrap_or("").trim()
}

fn num(s: &str) -> Option<f64> {
    let v: f64 = s.trim().parse().ok()?;
    v.is_finite().then_some(v)
}

/// Azure's libcloud size keys are the SkyPilot names in lower case without separators.
fn azure_norm(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// AWS Graviton families have a `g` right after the generation digit (`m6g`, `c7gn`, `t4g`,
/// `x2gd`, `im4gn`, `is4gen`, `g5g`), plus the first-generation `a1`.
fn aws_arch_by_name(spec: &str) -> Arch {
    let family = spec.split('.').next().unwrap_or("");
    if family == "a1" {
        return Arch::Arm64;
    }
    let b = family.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_lowercase() {
        i += 1;
    }
    let letters = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if letters > 0 && i > letters && i < b.len() && b[i] == b'g' {
        Arch::Arm64
    } else {
        Arch::X86_64
    }
}

/// Azure's Arm sizes carry a `p` among the lower-case feature letters after the vCPU number
/// (`Standard_D2ps_v5`, `Standard_B2pls_v2`, `Standard_E4pds_v6`).
fn azure_arch_by_name(spec: &str) -> Arch {
    let body = spec.split('_').nth(1).unwrap_or("");
    let digits_end = body
        .char_indices()
        .skip_while(|(_, c)| c.is_ascii_uppercase())
        .skip_while(|(_, c)| c.is_ascii_digit() || *c == '-')
        .map(|(i, _)| i)
        .next()
        .unwrap_or(body.len());
    let features: String = body[digits_end..]
        .chars()
        .take_while(|c| c.is_ascii_lowercase())
        .collect();
    if features.contains('p') {
        Arch::Arm64
    } else {
        Arch::X86_64
    }
}

/// GCP's Arm series: Tau T2A (Ampere Altra) and C4A (Axion).
fn gcp_arch_by_name(spec: &str) -> Arch {
    if spec.starts_with("t2a-") || spec.starts_with("c4a-") {
        Arch::Arm64
    } else {
        Arch::X86_64
    }
}

/// GPUs that GCP's accelerator-optimised types carry by name (SkyPilot leaves the column empty
/// for them): A2 = A100 (ultragpu: 80 GB), A3 = H100 (megagpu: H100 Mega, ultragpu: H200), G2 = L4.
fn gcp_gpu_by_name(spec: &str) -> Option<(String, u32)> {
    let parts: Vec<&str> = spec.split('-').collect();
    let count_g = || -> Option<u32> { parts.get(2)?.strip_suffix('g')?.parse().ok() };
    match (parts.first()?, parts.get(1)?) {
        (&"a2", &"ultragpu") => Some(("A100-80GB".into(), count_g()?)),
        (&"a2", _) => Some(("A100".into(), count_g()?)),
        (&"a3", &"megagpu") => Some(("H100-MEGA".into(), count_g()?)),
        (&"a3", &"ultragpu") => Some(("H200".into(), count_g()?)),
        (&"a3", _) => Some(("H100".into(), count_g()?)),
        (&"g2", &"standard") => {
            let n: u32 = parts.get(2)?.parse().ok()?;
            let gpus = match n {
                4 | 8 | 12 | 16 | 32 => 1,
                24 => 2,
                48 => 4,
                96 => 8,
                _ => return None,
            };
            Some(("L4".into(), gpus))
        }
        _ => None,
    }
}

/// Shapes by public naming rule for the providers whose files carry no vCPU or memory column.
/// `None` when the rule does not cover the name: such offers are dropped, never guessed.
fn shape_by_naming_rule(provider: &str, spec: &str) -> Option<(u32, f64)> {
    match provider {
        // ecs.<family>.<size>: large = 2 vCPUs, xlarge = 4, Nxlarge = 4N; the g5, g6, g6e,
        // g7 and g7a general-purpose families have 4 GiB per vCPU.
        "alibaba" => {
            let mut it = spec.split('.');
            let (ecs, family, size) = (it.next()?, it.next()?, it.next()?);
            if ecs != "ecs" || !["g5", "g6", "g6e", "g7", "g7a"].contains(&family) {
                return None;
            }
            let vcpu = match size {
                "large" => 2,
                "xlarge" => 4,
                s => 4 * s.strip_suffix("xlarge")?.parse::<u32>().ok()?,
            };
            Some((vcpu, 4.0 * vcpu as f64))
        }
        // <FAMILY>.<SIZE><GiB>: SMALL = 1 vCPU, MEDIUM = 2, LARGE = 4 (larger sizes are not in
        // the files and not derived).
        "tencent" => {
            let (_, rest) = spec.split_once('.')?;
            let split = rest.find(|c: char| c.is_ascii_digit())?;
            let (size, mem) = rest.split_at(split);
            let vcpu = match size {
                "SMALL" => 1,
                "MEDIUM" => 2,
                "LARGE" => 4,
                _ => return None,
            };
            Some((vcpu, mem.parse().ok()?))
        }
        // <family>-<vCPUs>x<GiB>.
        "ibm" => {
            let (_, shape) = spec.split_once('-')?;
            let (v, m) = shape.split_once('x')?;
            Some((v.parse().ok()?, m.parse().ok()?))
        }
        _ => None,
    }
}

/// GCP predefined types derivable from libcloud's per-vCPU and per-GiB prices: family, series,
/// GiB per vCPU and the vCPU sizes offered (public naming rule).
const GCE_RULES: &[(&str, &str, f64, &[u32])] = &[
    ("n1", "standard", 3.75, &[1, 2, 4, 8, 16, 32, 64, 96]),
    ("n1", "highmem", 6.5, &[2, 4, 8, 16, 32, 64, 96]),
    ("n1", "highcpu", 0.9, &[2, 4, 8, 16, 32, 64, 96]),
    (
        "n2",
        "standard",
        4.0,
        &[2, 4, 8, 16, 32, 48, 64, 80, 96, 128],
    ),
    (
        "n2",
        "highmem",
        8.0,
        &[2, 4, 8, 16, 32, 48, 64, 80, 96, 128],
    ),
    ("n2", "highcpu", 1.0, &[2, 4, 8, 16, 32, 48, 64, 80, 96]),
    (
        "n2d",
        "standard",
        4.0,
        &[2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224],
    ),
    ("n2d", "highmem", 8.0, &[2, 4, 8, 16, 32, 48, 64, 80, 96]),
    (
        "n2d",
        "highcpu",
        1.0,
        &[2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224],
    ),
    ("e2", "standard", 4.0, &[2, 4, 8, 16, 32]),
    ("e2", "highmem", 8.0, &[2, 4, 8, 16]),
    ("e2", "highcpu", 1.0, &[2, 4, 8, 16, 32]),
    ("c2", "standard", 4.0, &[4, 8, 16, 30, 60]),
];

impl Importer {
    fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    fn set_price(&mut self, key: (String, String, String), src: PriceSource, price: f64) {
        let e = self.offers.entry(key).or_default();
        if e.price.is_none_or(|(s, _)| src > s) {
            e.price = Some((src, price));
        }
    }

    fn set_shape(&mut self, provider: &str, spec: &str, shape: Shape) {
        let k = (provider.to_string(), spec.to_string());
        match self.shapes.get_mut(&k) {
            Some(old) if old.source > shape.source => {
                // Keep the better shape but learn a GPU model the better source lacks.
                if old.gpu_model.is_none() && shape.gpu_model.is_some() {
                    old.gpu_model = shape.gpu_model;
                    if old.gpu_count == 0 {
                        old.gpu_count = shape.gpu_count;
                    }
                }
            }
            Some(old) if old.source == shape.source => {}
            _ => {
                self.shapes.insert(k, shape);
            }
        }
    }

    fn cloudinfo(&mut self, p: &Path) -> Result<(), CatalogError> {
        let text =
            String::from_utf8(read(p)?).map_err(|e| CatalogError::parse(p, e.to_string()))?;
        let doc = yaml::parse(&text).map_err(|e| CatalogError::parse(p, e))?;
        let clouds = doc
            .get("cloud")
            .ok_or_else(|| CatalogError::parse(p, "no top-level `cloud` key"))?;
        let mut n = 0;
        for (provider, node) in clouds.entries() {
            for (region, r) in node.get("region").map(|r| r.entries()).unwrap_or(&[]) {
                let loc = r.get("location");
                let coord = |k: &str| {
                    loc.and_then(|l| l.get(k))
                        .and_then(|v| v.as_str())
                        .and_then(num)
                };
                let (Some(lat), Some(lon)) = (coord("latitude"), coord("longitude")) else {
                    self.note(format!(
                        "cloudinfo.yaml: {provider}-{region} has no coordinates"
                    ));
                    continue;
                };
                let display = loc
                    .and_then(|l| l.get("display"))
                    .or_else(|| r.get("description"))
                    .and_then(|v| v.as_str())
                    .unwrap_or(region)
                    .to_string();
                let key = RegionKey::new(&provider.to_ascii_lowercase(), region);
                self.regions.entry(key.clone()).or_insert(Region {
                    provider: key.provider,
                    region: key.region,
                    display_name: display,
                    latitude: lat,
                    longitude: lon,
                });
                n += 1;
            }
        }
        self.sources.push(format!(
            "{}: {n} enabled regions with coordinates (CB-Tumblebug, Apache-2.0)",
            file_label(p)
        ));
        Ok(())
    }

    fn cloudlocation(&mut self, p: &Path) -> Result<(), CatalogError> {
        let bytes = read(p)?;
        let mut rd = csv_reader(&bytes);
        let c = Cols::new(
            rd.headers()
                .map_err(|e| CatalogError::parse(p, e.to_string()))?,
        );
        let (ct, id, dn, la, lo) = (
            c.need(p, "CloudType")?,
            c.need(p, "ID")?,
            c.need(p, "DisplayName")?,
            c.need(p, "Latitude")?,
            c.need(p, "Longitude")?,
        );
        let mut added = Vec::new();
        for r in rd.records() {
            let r = r.map_err(|e| CatalogError::parse(p, e.to_string()))?;
            let key = RegionKey::new(&field(&r, ct).to_ascii_lowercase(), field(&r, id));
            let (Some(lat), Some(lon)) = (num(field(&r, la)), num(field(&r, lo))) else {
                continue;
            };
            if !self.regions.contains_key(&key) {
                added.push(key.to_string());
                self.regions.insert(
                    key.clone(),
                    Region {
                        provider: key.provider,
                        region: key.region,
                        display_name: field(&r, dn).to_string(),
                        latitude: lat,
                        longitude: lon,
                    },
                );
            }
        }
        self.sources.push(format!(
            "{}: coordinates for {} regions missing from cloudinfo.yaml (CB-Tumblebug v0.8.0, Apache-2.0)",
            file_label(p),
            added.len()
        ));
        Ok(())
    }

    fn latency(&mut self, p: &Path) -> Result<(), CatalogError> {
        let bytes = read(p)?;
        let mut rd = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(&bytes[..]);
        let mut rows = rd.records();
        let header = rows
            .next()
            .ok_or_else(|| CatalogError::parse(p, "empty file"))?
            .map_err(|e| CatalogError::parse(p, e.to_string()))?;
        // Column labels; the file is padded with blank labels and cells: drop them.
        let labels: Vec<Option<RegionKey>> = header
            .iter()
            .skip(1)
            .map(|s| RegionKey::parse(s.trim()))
            .collect();
        let (mut n, mut empty_rows) = (0, 0);
        for r in rows {
            let r = r.map_err(|e| CatalogError::parse(p, e.to_string()))?;
            let Some(from) = RegionKey::parse(field(&r, 0)) else {
                continue;
            };
            let before = n;
            for (j, to) in labels.iter().enumerate() {
                let (Some(to), Some(ms)) = (to, num(field(&r, j + 1))) else {
                    continue;
                };
                if ms > 0.0 {
                    self.measured.push(MeasuredRtt {
                        from: from.clone(),
                        to: to.clone(),
                        ms,
                    });
                    n += 1;
                }
            }
            if n == before {
                empty_rows += 1;
            }
        }
        self.sources.push(format!(
            "{}: {n} measured directed RTTs, {} labelled regions, {empty_rows} empty rows (CB-Tumblebug, measured 2022, Apache-2.0)",
            file_label(p),
            labels.iter().flatten().count()
        ));
        Ok(())
    }

    fn ec2_types(&mut self, p: &Path) -> Result<(), CatalogError> {
        let v: serde_json::Value =
            serde_json::from_slice(&read(p)?).map_err(|e| CatalogError::parse(p, e.to_string()))?;
        let obj = v
            .as_object()
            .ok_or_else(|| CatalogError::parse(p, "expected an object of instance types"))?;
        let mut n = 0;
        for (spec, t) in obj {
            let s = |k: &str| t.get(k).and_then(|x| x.as_str()).map(str::to_string);
            let vcpu = s("vcpu")
                .and_then(|x| x.parse::<f64>().ok())
                .or_else(|| t.get("vcpu").and_then(|x| x.as_f64()));
            let mem = t
                .get("ram_mib")
                .and_then(|x| x.as_f64())
                .map(|m| m / 1024.0);
            let (Some(vcpu), Some(mem)) = (vcpu, mem) else {
                continue;
            };
            let gpus = s("gpu")
                .and_then(|x| x.parse::<u32>().ok())
                .or_else(|| t.get("gpu").and_then(|x| x.as_u64()).map(|x| x as u32))
                .unwrap_or(0);
            let arch = match s("physicalProcessor") {
                Some(proc_) if proc_.contains("Graviton") => Arch::Arm64,
                Some(_) => Arch::X86_64,
                None => aws_arch_by_name(spec),
            };
            self.set_shape(
                "aws",
                spec,
                Shape {
                    vcpu: vcpu.round() as u32,
                    memory_gib: mem,
                    arch,
                    gpu_model: None,
                    gpu_count: gpus,
                    source: ShapeSource::LibcloudTable,
                },
            );
            n += 1;
        }
        self.sources.push(format!(
            "{}: {n} EC2 instance types with vCPU, memory, GPU count and processor (Apache Libcloud 3.9.1, Apache-2.0)",
            file_label(p)
        ));
        Ok(())
    }

    fn skypilot(&mut self, p: &Path) -> Result<(), CatalogError> {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let provider = name.trim_end_matches("_vms.csv").to_ascii_lowercase();
        let bytes = read(p)?;
        let mut rd = csv_reader(&bytes);
        let c = Cols::new(
            rd.headers()
                .map_err(|e| CatalogError::parse(p, e.to_string()))?,
        );
        let it = c.need(p, "InstanceType")?;
        let vc = c.need(p, "vCPUs")?;
        let mg = c.need(p, "MemoryGiB")?;
        let pr = c.need(p, "Price")?;
        let rg = c.need(p, "Region")?;
        let sp = c.get("SpotPrice");
        let an = c.get("AcceleratorName");
        let ac = c.get("AcceleratorCount");

        // (region, spec) -> (price, max spot over zones)
        let mut rows: BTreeMap<(String, String), (Option<f64>, Option<f64>)> = BTreeMap::new();
        let (mut total, mut accel_only, mut no_price, mut tpu_hosts, mut fill_in_spot) =
            (0, 0, 0, 0, 0);
        for r in rd.records() {
            let r = r.map_err(|e| CatalogError::parse(p, e.to_string()))?;
            total += 1;
            let spec = field(&r, it);
            if spec.is_empty() {
                accel_only += 1;
                continue;
            }
            if provider == "gcp" && spec.ends_with("-tpu") {
                tpu_hosts += 1;
                continue;
            }
            let (Some(vcpu), Some(mem)) = (num(field(&r, vc)), num(field(&r, mg))) else {
                continue;
            };
            let accel = an.map(|i| field(&r, i)).filter(|s| !s.is_empty());
            let accel_n = ac.and_then(|i| num(field(&r, i))).unwrap_or(0.0);
            let (gpu_model, gpu_count) = match accel {
                Some(a) => (Some(a.to_string()), accel_n.round().max(1.0) as u32),
                None if provider == "gcp" => match gcp_gpu_by_name(spec) {
                    Some((m, n)) => (Some(m), n),
                    None => (None, 0),
                },
                None => (None, 0),
            };
            let arch = match provider.as_str() {
                "aws" => aws_arch_by_name(spec),
                "azure" => azure_arch_by_name(spec),
                "gcp" => gcp_arch_by_name(spec),
                _ => Arch::X86_64,
            };
            self.set_shape(
                &provider,
                spec,
                Shape {
                    vcpu: vcpu.round() as u32,
                    memory_gib: mem,
                    arch,
                    gpu_model,
                    gpu_count,
                    source: ShapeSource::SkyPilot,
                },
            );
            if provider == "azure" {
                self.azure_names.insert(azure_norm(spec), spec.to_string());
            }
            let price = num(field(&r, pr)).filter(|x| *x > 0.0);
            if price.is_none() {
                no_price += 1;
            }
            let mut spot = sp.and_then(|i| num(field(&r, i))).filter(|x| *x > 0.0);
            if provider == "aws" && spot.is_some() && spot == price {
                fill_in_spot += 1;
                spot = None;
            }
            let e = rows
                .entry((field(&r, rg).to_string(), spec.to_string()))
                .or_insert((None, None));
            if e.0.is_none() {
                e.0 = price;
            }
            if let Some(s) = spot {
                e.1 = Some(e.1.map_or(s, |o: f64| o.max(s)));
            }
        }
        let mut offers = 0;
        for ((region, spec), (price, spot)) in rows {
            let key = (provider.clone(), region, spec);
            if let Some(pr) = price {
                self.set_price(key.clone(), PriceSource::SkyPilot, pr);
                offers += 1;
            }
            if let Some(s) = spot {
                self.offers.entry(key).or_default().spot = Some(s);
            }
        }
        self.sources.push(format!(
            "{}: {total} rows, {offers} priced (type, region) offers after collapsing zones (SkyPilot catalog, Apache-2.0)",
            file_label(p)
        ));
        if accel_only > 0 {
            self.note(format!(
                "{provider}: skipped {accel_only} accelerator-only rows (GPUs/TPUs priced without a VM type; attachable GPUs are not modelled)"
            ));
        }
        if tpu_hosts > 0 {
            self.note(format!(
                "{provider}: skipped {tpu_hosts} TPU-host VM rows (`*-tpu`)"
            ));
        }
        if no_price > 0 {
            self.note(format!(
                "{provider}: {no_price} SkyPilot rows have no on-demand price"
            ));
        }
        if fill_in_spot > 0 {
            self.note(format!(
                "{provider}: ignored {fill_in_spot} spot quotes equal to the on-demand price (fill-ins)"
            ));
        }
        Ok(())
    }

    fn libcloud_pricing(&mut self, p: &Path) -> Result<(), CatalogError> {
        let v: serde_json::Value =
            serde_json::from_slice(&read(p)?).map_err(|e| CatalogError::parse(p, e.to_string()))?;
        let updated = v
            .get("updated")
            .and_then(|u| u.as_i64())
            .map(date_from_unix);
        let compute = v
            .get("compute")
            .ok_or_else(|| CatalogError::parse(p, "no `compute` key"))?;
        let empty = serde_json::Map::new();
        let table = |k: &str| compute.get(k).and_then(|t| t.as_object()).unwrap_or(&empty);

        // AWS
        let (mut aws, mut aws_no_shape) = (0, BTreeSet::new());
        for (spec, regions) in table("ec2_linux") {
            for (region, price) in regions.as_object().unwrap_or(&empty) {
                let Some(price) = price.as_f64().filter(|x| *x > 0.0) else {
                    continue;
                };
                if !self.shapes.contains_key(&("aws".to_string(), spec.clone())) {
                    aws_no_shape.insert(spec.clone());
                    continue;
                }
                self.set_price(
                    ("aws".into(), region.clone(), spec.clone()),
                    PriceSource::Libcloud,
                    price,
                );
                aws += 1;
            }
        }
        // Azure: keys are SkyPilot names normalised; `lowpriority*` keys are Batch low-priority
        // prices, not on-demand.
        let (mut az, mut az_no_shape, mut low) = (0, BTreeSet::new(), 0);
        for (key, regions) in table("azure_linux") {
            if key.starts_with("lowpriority") {
                low += 1;
                continue;
            }
            let Some(spec) = self.azure_names.get(key).cloned() else {
                az_no_shape.insert(key.clone());
                continue;
            };
            for (region, price) in regions.as_object().unwrap_or(&empty) {
                if let Some(price) = price.as_f64().filter(|x| *x > 0.0) {
                    self.set_price(
                        ("azure".into(), region.clone(), spec.clone()),
                        PriceSource::Libcloud,
                        price,
                    );
                    az += 1;
                }
            }
        }
        // GCP: predefined types = vCPUs x core price + GiB x memory price.
        let mut gce = 0;
        let gce_table = table("gce_instances");
        for &(family, series, gib_per_vcpu, sizes) in GCE_RULES {
            let Some(fam) = gce_table.get(family) else {
                continue;
            };
            let prices = |part: &str| -> BTreeMap<String, f64> {
                fam.get(part)
                    .and_then(|x| x.get("on_demand"))
                    .and_then(|x| x.as_object())
                    .map(|m| {
                        m.iter()
                            .filter_map(|(r, v)| {
                                let pr = v.get("price").and_then(|p| p.as_f64())?;
                                (pr > 0.0).then(|| (r.clone(), pr))
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (cpu, ram) = (prices("cpu"), prices("ram"));
            for (region, core) in &cpu {
                let Some(gib) = ram.get(region) else { continue };
                for &n in sizes {
                    let spec = format!("{family}-{series}-{n}");
                    let mem = (gib_per_vcpu * n as f64 * 100.0).round() / 100.0;
                    let price = ((n as f64 * core + mem * gib) * 1e6).round() / 1e6;
                    self.set_shape(
                        "gcp",
                        &spec,
                        Shape {
                            vcpu: n,
                            memory_gib: mem,
                            arch: Arch::X86_64,
                            gpu_model: None,
                            gpu_count: 0,
                            source: ShapeSource::NamingRule,
                        },
                    );
                    self.set_price(
                        ("gcp".into(), region.clone(), spec),
                        PriceSource::LibcloudDerived,
                        price,
                    );
                    gce += 1;
                }
            }
        }
        self.sources.push(format!(
            "{}: {aws} AWS and {az} Azure (type, region) prices, {gce} GCP prices derived from per-vCPU and per-GiB rates (Apache Libcloud 3.9.1, prices updated {}, Apache-2.0)",
            file_label(p),
            updated.unwrap_or_else(|| "at an unknown date".into())
        ));
        if !aws_no_shape.is_empty() {
            self.note(format!(
                "aws: {} priced libcloud keys have no shape in any source (family keys such as `c5`, some `.metal` types) and are skipped",
                aws_no_shape.len()
            ));
        }
        if !az_no_shape.is_empty() {
            self.note(format!(
                "azure: {} libcloud sizes have no SkyPilot shape (older or promo sizes) and are skipped; {low} low-priority price keys ignored",
                az_no_shape.len()
            ));
        }
        Ok(())
    }

    fn cloudspec(&mut self, p: &Path) -> Result<(), CatalogError> {
        let bytes = read(p)?;
        let mut rd = csv_reader(&bytes);
        let c = Cols::new(
            rd.headers()
                .map_err(|e| CatalogError::parse(p, e.to_string()))?,
        );
        let (pn, rn, sn, cost) = (
            c.need(p, "providerName")?,
            c.need(p, "regionName")?,
            c.need(p, "cspSpecName")?,
            c.need(p, "CostPerHour")?,
        );
        let score = c.get("evaluationScore01");
        let mut rows = 0;
        let mut unknown_shape: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut scored = 0;
        for r in rd.records() {
            let r = r.map_err(|e| CatalogError::parse(p, e.to_string()))?;
            rows += 1;
            let provider = field(&r, pn).to_ascii_lowercase();
            let region_full = field(&r, rn);
            let region = region_full
                .strip_prefix(&format!("{provider}-"))
                .unwrap_or(region_full)
                .to_string();
            let spec = field(&r, sn).to_string();
            let key = (provider.clone(), spec.clone());
            if !self.shapes.contains_key(&key) {
                match shape_by_naming_rule(&provider, &spec) {
                    Some((vcpu, mem)) => self.set_shape(
                        &provider,
                        &spec,
                        Shape {
                            vcpu,
                            memory_gib: mem,
                            arch: Arch::X86_64,
                            gpu_model: None,
                            gpu_count: 0,
                            source: ShapeSource::NamingRule,
                        },
                    ),
                    None => {
                        unknown_shape.entry(provider).or_default().insert(spec);
                        continue;
                    }
                }
            }
            let okey = (provider, region, spec);
            if let Some(price) = num(field(&r, cost)).filter(|x| *x > 0.0) {
                self.set_price(okey.clone(), PriceSource::Tumblebug, price);
            }
            if let Some(s) = score.and_then(|i| num(field(&r, i))) {
                if let Some(e) = self.offers.get_mut(&okey) {
                    e.performance = Some(s);
                    scored += 1;
                }
            }
        }
        self.sources.push(format!(
            "{}: {rows} priced specs, {scored} performance scores (CB-Tumblebug v0.8.0, Dec 2023, Apache-2.0)",
            file_label(p)
        ));
        for (prov, specs) in unknown_shape {
            let list: Vec<_> = specs.into_iter().collect();
            self.note(format!(
                "{prov}: no vCPU/memory for {} in any source and no naming rule; skipped: {}",
                if list.len() == 1 {
                    "1 spec".to_string()
                } else {
                    format!("{} specs", list.len())
                },
                list.join(", ")
            ));
        }
        Ok(())
    }

    fn finish(mut self, dir: &Path) -> Result<Catalog, CatalogError> {
        if self.regions.is_empty() {
            return Err(CatalogError::Empty {
                message: format!(
                    "no regions with coordinates under {} (need tumblebug/cloudinfo.yaml or cloudlocation.csv)",
                    dir.display()
                ),
            });
        }
        let mut offers = Vec::new();
        let mut by_source: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
        for ((provider, region, spec), part) in &self.offers {
            let Some((src, price)) = part.price else {
                continue;
            };
            let Some(shape) = self.shapes.get(&(provider.clone(), spec.clone())) else {
                continue;
            };
            let label = match src {
                PriceSource::Libcloud => "libcloud",
                PriceSource::SkyPilot => "skypilot",
                PriceSource::LibcloudDerived => "libcloud-derived",
                PriceSource::Tumblebug => "tumblebug",
            };
            *by_source
                .entry(provider.clone())
                .or_default()
                .entry(label)
                .or_default() += 1;
            offers.push(Offer {
                provider: provider.clone(),
                region: region.clone(),
                spec: spec.clone(),
                vcpu: shape.vcpu,
                memory_gib: shape.memory_gib,
                arch: shape.arch,
                gpu_model: shape.gpu_model.clone(),
                gpu_count: shape.gpu_count,
                price_usd_per_hour: price,
                spot_usd_per_hour: part.spot,
                performance: part.performance,
            });
        }
        if offers.is_empty() {
            return Err(CatalogError::Empty {
                message: format!("no priced offer with a known shape under {}", dir.display()),
            });
        }
        for (prov, m) in &by_source {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{v} priced by {k}"))
                .collect();
            self.notes.push(format!(
                "{prov}: {} offers: {}",
                m.values().sum::<usize>(),
                parts.join(", ")
            ));
        }
        let info = CatalogInfo {
            sources: self.sources,
            notes: self.notes,
        };
        Ok(Catalog::new(
            self.regions.into_values().collect(),
            offers,
            self.measured,
            info,
        ))
    }
}

/// `YYYY-MM-DD` of a Unix time (UTC), without a date library.
fn date_from_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm, public domain description).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    format!("{:04}-{:02}-{:02}", if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_by_name() {
        for s in [
            "m6g.large",
            "c7gn.xlarge",
            "t4g.nano",
            "x2gd.metal",
            "im4gn.large",
            "is4gen.large",
            "g5g.xlarge",
            "a1.large",
        ] {
            assert_eq!(aws_arch_by_name(s), Arch::Arm64, "{s}");
        }
        for s in [
            "m5.large",
            "g4dn.xlarge",
            "p4d.24xlarge",
            "inf2.xlarge",
            "c6i.large",
            "u-6tb1.metal",
        ] {
            assert_eq!(aws_arch_by_name(s), Arch::X86_64, "{s}");
        }
        assert_eq!(azure_arch_by_name("Standard_D2ps_v5"), Arch::Arm64);
        assert_eq!(azure_arch_by_name("Standard_B2pls_v2"), Arch::Arm64);
        assert_eq!(azure_arch_by_name("Standard_D2s_v3"), Arch::X86_64);
        assert_eq!(azure_arch_by_name("Standard_E16-4s_v4"), Arch::X86_64);
        assert_eq!(azure_arch_by_name("Standard_DS2"), Arch::X86_64);
        assert_eq!(gcp_arch_by_name("t2a-standard-4"), Arch::Arm64);
        assert_eq!(gcp_arch_by_name("t2d-standard-4"), Arch::X86_64);
    }

    #[test]
    fn naming_rules() {
        assert_eq!(
            shape_by_naming_rule("alibaba", "ecs.g6.large"),
            Some((2, 8.0))
        );
        assert_eq!(
            shape_by_naming_rule("alibaba", "ecs.g7.16xlarge"),
            Some((64, 256.0))
        );
        assert_eq!(shape_by_naming_rule("alibaba", "ecs.sn2.medium"), None);
        assert_eq!(
            shape_by_naming_rule("tencent", "S5.MEDIUM4"),
            Some((2, 4.0))
        );
        assert_eq!(shape_by_naming_rule("ibm", "bx2-2x8"), Some((2, 8.0)));
        assert_eq!(shape_by_naming_rule("cloudit", "small-1"), None);
        assert_eq!(gcp_gpu_by_name("a2-highgpu-4g"), Some(("A100".into(), 4)));
        assert_eq!(
            gcp_gpu_by_name("a2-ultragpu-1g"),
            Some(("A100-80GB".into(), 1))
        );
        assert_eq!(gcp_gpu_by_name("g2-standard-48"), Some(("L4".into(), 4)));
        assert_eq!(gcp_gpu_by_name("n2-standard-4"), None);
        assert_eq!(azure_norm("Standard_D2s_v3"), "standardd2sv3");
        assert_eq!(date_from_unix(1_740_936_978), "2025-03-02");
        assert_eq!(date_from_unix(0), "1970-01-01");
    }
}
