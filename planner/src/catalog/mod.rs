//! The planner's typed catalog: offers, regions and the region-to-region RTT matrix.
//!
//! A [`Catalog`] is an immutable value. It is built either from the public formats in
//! `shared/catalog/` (see [`import`]), from the planner's own JSON format (see [`mod@format`]), or
//! from the compressed copy of that JSON compiled into the binary ([`Catalog::embedded`]).
//!
//! **Invariant:** every offer's region is a catalog region with coordinates, so [`Catalog::rtt`]
//! answers for every pair of regions that host offers: measured when the latency matrix has the
//! pair, otherwise estimated from great-circle distance ([`estimate_rtt_ms`]) and flagged.

pub mod format;
pub mod import;
mod yaml;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// CPU architecture of an offer. Images are architecture-specific, so a VM group asks for one.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum Arch {
    /// 64-bit x86 (Intel, AMD). The default, because most images are built for it.
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    /// 64-bit Arm (AWS Graviton, Azure Cobalt/Ampere, GCP Tau T2A/Axion).
    #[serde(rename = "arm64")]
    Arm64,
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        })
    }
}

/// One priced VM type in one region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    /// Provider name in lower case (`aws`, `azure`, `gcp`, `alibaba`, `tencent`, `ibm`, ...).
    pub provider: String,
    /// Region name as the provider spells it (`ap-northeast-2`, `koreacentral`).
    pub region: String,
    /// VM type name as the provider spells it (`m5.large`, `Standard_D2s_v3`).
    pub spec: String,
    /// Virtual CPUs.
    pub vcpu: u32,
    /// Memory in GiB.
    pub memory_gib: f64,
    /// CPU architecture.
    pub arch: Arch,
    /// Accelerator model (`T4`, `A100-80GB`), when the type has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_model: Option<String>,
    /// Number of accelerators per VM (0 without).
    #[serde(default)]
    pub gpu_count: u32,
    /// On-demand Linux price in USD per hour.
    pub price_usd_per_hour: f64,
    /// Spot / preemptible price in USD per hour, when a source quotes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_usd_per_hour: Option<f64>,
    /// CB-Tumblebug's benchmark score (`evaluationScore01`), when measured for this offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance: Option<f64>,
}

impl Offer {
    /// The key of the offer's region.
    pub fn region_key(&self) -> RegionKey {
        RegionKey::new(&self.provider, &self.region)
    }
}

/// A provider region with its location.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Provider name in lower case.
    pub provider: String,
    /// Region name as the provider spells it.
    pub region: String,
    /// Human-readable location, e.g. `Korea (Seoul)`.
    pub display_name: String,
    /// Latitude in decimal degrees (WGS84).
    pub latitude: f64,
    /// Longitude in decimal degrees (WGS84).
    pub longitude: f64,
}

impl Region {
    /// The region's key.
    pub fn key(&self) -> RegionKey {
        RegionKey::new(&self.provider, &self.region)
    }
}

/// Identifies a region across providers. Written `provider-region` (`aws-ap-northeast-2`), the
/// spelling of CB-Tumblebug's latency matrix; serialised as that string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionKey {
    /// Provider name in lower case.
    pub provider: String,
    /// Region name.
    pub region: String,
}

impl RegionKey {
    /// A key from its two parts.
    pub fn new(provider: &str, region: &str) -> RegionKey {
        RegionKey {
            provider: provider.to_string(),
            region: region.to_string(),
        }
    }

    /// Parses `provider-region`, splitting at the first `-` (no provider name in the sources
    /// contains one, while most region names do). Returns `None` without a `-`.
    pub fn parse(s: &str) -> Option<RegionKey> {
        let (p, r) = s.split_once('-')?;
        if p.is_empty() || r.is_empty() {
            return None;
        }
        Some(RegionKey::new(&p.to_ascii_lowercase(), r))
    }
}

impl fmt::Display for RegionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.provider, self.region)
    }
}

impl Serialize for RegionKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RegionKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RegionKey::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not `provider-region`")))
    }
}

/// Round-trip time between two regions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rtt {
    /// Milliseconds.
    pub ms: f64,
    /// `true` when no direction of the pair was measured and the value comes from
    /// [`estimate_rtt_ms`]; every surface that shows an RTT marks it.
    pub estimated: bool,
}

/// One measured, directed RTT (`from` to `to`), as in CB-Tumblebug's matrix (row to column).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeasuredRtt {
    /// Source region.
    pub from: RegionKey,
    /// Destination region.
    pub to: RegionKey,
    /// Milliseconds.
    pub ms: f64,
}

/// Fixed part of the RTT estimate: last-mile, queuing and processing delay, in ms.
pub const RTT_ESTIMATE_BASE_MS: f64 = 5.0;
/// Distance-proportional part of the RTT estimate, in ms per km of great-circle distance.
///
/// Light in fibre covers about 200 km per ms, i.e. 0.010 ms of RTT per km of path; real routes
/// are about 1.6 times the great-circle distance. 5 ms + 0.016 ms/km is the grid-search fit
/// (minimal median relative error) on the 5,486 region pairs of CB-Tumblebug's matrix that have
/// coordinates: its median relative error is about 17 % (a test keeps it under 25 %).
pub const RTT_ESTIMATE_MS_PER_KM: f64 = 0.016;

/// Mean Earth radius (IUGG) in km, for great-circle distances.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle (haversine) distance in km between two points given in decimal degrees.
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// The documented RTT model for unmeasured pairs:
/// `RTT_ESTIMATE_BASE_MS + RTT_ESTIMATE_MS_PER_KM * distance_km`, rounded to 0.01 ms so that
/// printed and exported values are stable.
pub fn estimate_rtt_ms(distance_km: f64) -> f64 {
    ((RTT_ESTIMATE_BASE_MS + RTT_ESTIMATE_MS_PER_KM * distance_km) * 100.0).round() / 100.0
}

/// Why a catalog could not be loaded.
#[derive(Debug)]
pub enum CatalogError {
    /// Reading a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file's content could not be parsed.
    Parse {
        /// The file (or `<embedded>`).
        path: PathBuf,
        /// Where and what.
        message: String,
    },
    /// The input holds no usable offer or region.
    Empty {
        /// What was looked at and found missing.
        message: String,
    },
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogError::Io { path, source } => {
                write!(f, "cannot read catalog file {}: {source}", path.display())
            }
            CatalogError::Parse { path, message } => {
                write!(f, "cannot parse catalog file {}: {message}", path.display())
            }
            CatalogError::Empty { message } => write!(f, "unusable catalog: {message}"),
        }
    }
}

impl std::error::Error for CatalogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CatalogError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl CatalogError {
    pub(crate) fn parse(path: &Path, message: impl Into<String>) -> CatalogError {
        CatalogError::Parse {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
    pub(crate) fn io(path: &Path, source: std::io::Error) -> CatalogError {
        CatalogError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Where a catalog came from and what its import had to drop or guess: soft problems are
/// collected here instead of failing the import.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogInfo {
    /// One line per source file, with its date when the file states one.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Import notes: skipped rows, derived values, missing data.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The offers, regions and RTT matrix the planner decides on. Immutable once built.
#[derive(Clone, Debug)]
pub struct Catalog {
    offers: Vec<Offer>,
    /// Region index of each offer.
    offer_region: Vec<usize>,
    regions: Vec<Region>,
    region_index: HashMap<RegionKey, usize>,
    /// Directed measurements by region index.
    measured: BTreeMap<(u32, u32), f64>,
    /// Effective symmetric RTT, `n * n`, row-major.
    rtt_ms: Vec<f64>,
    rtt_estimated: Vec<bool>,
    info: CatalogInfo,
}

/// The embedded default catalog: gzip-compressed planner JSON produced by
/// `tumblebug-planner catalog build` from `shared/catalog/`.
pub const EMBEDDED_CATALOG_GZ: &[u8] = include_bytes!("../../data/catalog.json.gz");

impl Catalog {
    /// Builds a catalog from its parts.
    ///
    /// Regions are sorted by (provider, region) and offers by (provider, region, spec), so
    /// everything downstream iterates in one deterministic order. Duplicate regions keep the
    /// first entry; duplicate offers keep the cheapest. Offers whose region is not in `regions`
    /// (no coordinates, so no RTT) and measurements between unknown regions are dropped and
    /// counted in [`CatalogInfo::notes`].
    pub fn new(
        mut regions: Vec<Region>,
        mut offers: Vec<Offer>,
        measured: Vec<MeasuredRtt>,
        mut info: CatalogInfo,
    ) -> Catalog {
        regions.sort_by(|a, b| (&a.provider, &a.region).cmp(&(&b.provider, &b.region)));
        regions.dedup_by(|b, a| a.provider == b.provider && a.region == b.region);
        let region_index: HashMap<RegionKey, usize> = regions
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key(), i))
            .collect();

        let before = offers.len();
        let mut dropped: BTreeMap<RegionKey, usize> = BTreeMap::new();
        offers.retain(|o| {
            let k = o.region_key();
            let keep = region_index.contains_key(&k);
            if !keep {
                *dropped.entry(k).or_default() += 1;
            }
            keep
        });
        if !dropped.is_empty() {
            let list: Vec<String> = dropped.iter().map(|(k, n)| format!("{k} ({n})")).collect();
            info.notes.push(format!(
                "dropped {} of {before} offers in regions without coordinates: {}",
                before - offers.len(),
                list.join(", ")
            ));
        }
        offers.sort_by(|a, b| {
            (&a.provider, &a.region, &a.spec)
                .cmp(&(&b.provider, &b.region, &b.spec))
                .then(a.price_usd_per_hour.total_cmp(&b.price_usd_per_hour))
        });
        offers
            .dedup_by(|b, a| a.provider == b.provider && a.region == b.region && a.spec == b.spec);

        let offer_region: Vec<usize> = offers
            .iter()
            .map(|o| region_index[&o.region_key()])
            .collect();
        let mut m = BTreeMap::new();
        let mut unknown = 0usize;
        for e in &measured {
            match (region_index.get(&e.from), region_index.get(&e.to)) {
                (Some(&i), Some(&j)) if e.ms.is_finite() && e.ms > 0.0 => {
                    m.insert((i as u32, j as u32), e.ms);
                }
                _ => unknown += 1,
            }
        }
        if unknown > 0 {
            info.notes.push(format!(
                "ignored {unknown} RTT measurements that involve a region without coordinates"
            ));
        }
        let n = regions.len();
        let mut rtt_ms = vec![0.0; n * n];
        let mut rtt_estimated = vec![true; n * n];
        for i in 0..n {
            for j in i..n {
                let (ms, est) = match (m.get(&(i as u32, j as u32)), m.get(&(j as u32, i as u32))) {
                    (Some(a), Some(b)) => (a.max(*b), false),
                    (Some(a), None) | (None, Some(a)) => (*a, false),
                    (None, None) => {
                        let (a, b) = (&regions[i], &regions[j]);
                        let d = distance_km(a.latitude, a.longitude, b.latitude, b.longitude);
                        (estimate_rtt_ms(d), true)
                    }
                };
                rtt_ms[i * n + j] = ms;
                rtt_ms[j * n + i] = ms;
                rtt_estimated[i * n + j] = est;
                rtt_estimated[j * n + i] = est;
            }
        }
        Catalog {
            offers,
            offer_region,
            regions,
            region_index,
            measured: m,
            rtt_ms,
            rtt_estimated,
            info,
        }
    }

    /// The default catalog compiled into the binary (see `docs/` for its provenance and date).
    ///
    /// Decompresses and parses about 2 MB of JSON on every call; callers that plan repeatedly
    /// should keep the value or use [`Catalog::embedded_ref`].
    ///
    /// # Panics
    ///
    /// Panics if the embedded file is corrupt, which a test rules out for every build.
    pub fn embedded() -> Catalog {
        format::read_json_gz(EMBEDDED_CATALOG_GZ, Path::new("<embedded>"))
            .expect("the embedded catalog is generated by the importer and checked by tests")
    }

    /// The embedded catalog, parsed once per process.
    pub fn embedded_ref() -> &'static Catalog {
        static CELL: OnceLock<Catalog> = OnceLock::new();
        CELL.get_or_init(Catalog::embedded)
    }

    /// A user catalog: a directory in the public formats (the layout of `shared/catalog/`, any
    /// subset of its files; see [`import::import_dir`]), or a file in the planner's own JSON
    /// format (`.json`, or gzip-compressed `.json.gz`) as written by `catalog export`.
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        if path.is_dir() {
            return import::import_dir(path);
        }
        let bytes = std::fs::read(path).map_err(|e| CatalogError::io(path, e))?;
        if bytes.starts_with(&[0x1f, 0x8b]) {
            format::read_json_gz(&bytes, path)
        } else {
            format::read_json(&bytes, path)
        }
    }

    /// All offers, sorted by (provider, region, spec).
    pub fn offers(&self) -> &[Offer] {
        &self.offers
    }

    /// All regions, sorted by (provider, region).
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Index in [`Catalog::regions`] of the region of offer `i`.
    ///
    /// # Panics
    ///
    /// Panics if `i` is out of range.
    pub fn offer_region_index(&self, i: usize) -> usize {
        self.offer_region[i]
    }

    /// Index of an offer by (provider, region, spec).
    pub fn offer_index(&self, provider: &str, region: &str, spec: &str) -> Option<usize> {
        self.offers
            .binary_search_by(|o| {
                (o.provider.as_str(), o.region.as_str(), o.spec.as_str())
                    .cmp(&(provider, region, spec))
            })
            .ok()
    }

    /// Where the catalog came from and what its import noted.
    pub fn info(&self) -> &CatalogInfo {
        &self.info
    }

    /// A region by key.
    pub fn region(&self, key: &RegionKey) -> Option<&Region> {
        self.region_index.get(key).map(|&i| &self.regions[i])
    }

    /// Index of a region in [`Catalog::regions`].
    pub fn region_index(&self, key: &RegionKey) -> Option<usize> {
        self.region_index.get(key).copied()
    }

    /// RTT between two regions: the larger of the two measured directions when both were
    /// measured, the one measured direction when only one was, otherwise the estimate from
    /// great-circle distance (flagged `estimated`). `None` if a key is not a catalog region.
    pub fn rtt(&self, a: &RegionKey, b: &RegionKey) -> Option<Rtt> {
        let i = self.region_index(a)?;
        let j = self.region_index(b)?;
        Some(self.rtt_by_index(i, j))
    }

    /// [`Catalog::rtt`] by region index.
    ///
    /// # Panics
    ///
    /// Panics if an index is out of range.
    pub fn rtt_by_index(&self, i: usize, j: usize) -> Rtt {
        let n = self.regions.len();
        Rtt {
            ms: self.rtt_ms[i * n + j],
            estimated: self.rtt_estimated[i * n + j],
        }
    }

    /// The directed measurements the catalog holds, in (from, to) index order.
    pub fn measured_rtts(&self) -> Vec<MeasuredRtt> {
        self.measured
            .iter()
            .map(|(&(i, j), &ms)| MeasuredRtt {
                from: self.regions[i as usize].key(),
                to: self.regions[j as usize].key(),
                ms,
            })
            .collect()
    }

    /// Great-circle distance in km from a region to a point.
    pub fn distance_to(&self, region: usize, lat: f64, lon: f64) -> f64 {
        let r = &self.regions[region];
        distance_km(r.latitude, r.longitude, lat, lon)
    }

    /// Number of offers per provider, in provider order.
    pub fn offers_per_provider(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for o in &self.offers {
            *m.entry(o.provider.clone()).or_insert(0) += 1;
        }
        m
    }
}
