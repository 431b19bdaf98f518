//! The planner's own catalog format (JSON, optionally gzip-compressed) and the CSV export.
//!
//! JSON layout (`format` = `tumblebug-planner-catalog`, `version` = 1):
//!
//! ```json
//! {
//!   "format": "tumblebug-planner-catalog", "version": 1,
//!   "info": { "sources": ["..."], "notes": ["..."] },
//!   "regions": [ { "provider": "aws", "region": "us-east-1", "display_name": "...",
//!                  "latitude": 38.13, "longitude": -78.45 } ],
//!   "offers":  [ { "provider": "aws", "region": "us-east-1", "spec": "m5.large", "vcpu": 2,
//!                  "memory_gib": 8.0, "arch": "x86_64", "gpu_count": 0,
//!                  "price_usd_per_hour": 0.096, "spot_usd_per_hour": 0.035 } ],
//!   "rtt":     [ { "from": "aws-us-east-1", "to": "aws-us-west-2", "ms": 62.9 } ]
//! }
//! ```
//!
//! `gpu_model`, `spot_usd_per_hour` and `performance` are omitted when unknown. An `rtt` entry
//! is a measurement from `from` to `to` unless it carries `"estimated": true`; estimated entries
//! (as written by [`export_json`], which lists the whole matrix) are ignored on load because the
//! planner recomputes them from coordinates with the same model, so an export loads back into the
//! same catalog.

use super::{Catalog, CatalogError, CatalogInfo, MeasuredRtt, Offer, Region, RegionKey};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::Path;

/// The value of the `format` field.
pub const FORMAT_NAME: &str = "tumblebug-planner-catalog";
/// The value of the `version` field.
pub const FORMAT_VERSION: u32 = 1;

/// One RTT entry of the JSON format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RttEntry {
    /// Source region.
    pub from: RegionKey,
    /// Destination region.
    pub to: RegionKey,
    /// Milliseconds.
    pub ms: f64,
    /// `true` for a modelled value; such entries are ignored on load.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

/// The JSON document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CatalogFile {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// Always [`FORMAT_VERSION`].
    pub version: u32,
    /// Provenance and import notes.
    #[serde(default)]
    pub info: CatalogInfo,
    /// Regions with coordinates.
    pub regions: Vec<Region>,
    /// Offers.
    pub offers: Vec<Offer>,
    /// RTT entries.
    #[serde(default)]
    pub rtt: Vec<RttEntry>,
}

impl CatalogFile {
    /// The stored form of a catalog: measured, directed RTTs only (the embedded file).
    pub fn stored(c: &Catalog) -> CatalogFile {
        CatalogFile {
            format: FORMAT_NAME.to_string(),
            version: FORMAT_VERSION,
            info: c.info().clone(),
            regions: c.regions().to_vec(),
            offers: c.offers().to_vec(),
            rtt: c
                .measured_rtts()
                .into_iter()
                .map(|m| RttEntry {
                    from: m.from,
                    to: m.to,
                    ms: m.ms,
                    estimated: false,
                })
                .collect(),
        }
    }

    /// The audit form: the effective, symmetric RTT of every pair of regions (each pair once,
    /// `from` <= `to`; `from` = `to` is the intra-region RTT), flagged when estimated.
    pub fn audit(c: &Catalog) -> CatalogFile {
        let mut f = CatalogFile::stored(c);
        f.rtt = effective_pairs(c);
        f
    }

    fn into_catalog(self, path: &Path) -> Result<Catalog, CatalogError> {
        if self.format != FORMAT_NAME || self.version != FORMAT_VERSION {
            return Err(CatalogError::parse(
                path,
                format!(
                    "expected format `{FORMAT_NAME}` version {FORMAT_VERSION}, found `{}` version {}",
                    self.format, self.version
                ),
            ));
        }
        if self.offers.is_empty() {
            return Err(CatalogError::Empty {
                message: format!("{} lists no offers", path.display()),
            });
        }
        let measured = self
            .rtt
            .into_iter()
            .filter(|e| !e.estimated)
            .map(|e| MeasuredRtt {
                from: e.from,
                to: e.to,
                ms: e.ms,
            })
            .collect();
        Ok(Catalog::new(self.regions, self.offers, measured, self.info))
    }
}

fn effective_pairs(c: &Catalog) -> Vec<RttEntry> {
    let regions = c.regions();
    let mut v = Vec::with_capacity(regions.len() * regions.len() / 2);
    for i in 0..regions.len() {
        for j in i..regions.len() {
            let r = c.rtt_by_index(i, j);
            v.push(RttEntry {
                from: regions[i].key(),
                to: regions[j].key(),
                ms: r.ms,
                estimated: r.estimated,
            });
        }
    }
    v
}

/// Parses the JSON format.
pub fn read_json(bytes: &[u8], path: &Path) -> Result<Catalog, CatalogError> {
    let f: CatalogFile =
        serde_json::from_slice(bytes).map_err(|e| CatalogError::parse(path, e.to_string()))?;
    f.into_catalog(path)
}

/// Parses the gzip-compressed JSON format.
pub fn read_json_gz(bytes: &[u8], path: &Path) -> Result<Catalog, CatalogError> {
    let mut s = Vec::new();
    GzDecoder::new(bytes)
        .read_to_end(&mut s)
        .map_err(|e| CatalogError::parse(path, format!("gzip: {e}")))?;
    read_json(&s, path)
}

/// The stored JSON of a catalog (what `catalog build` compresses into `planner/data/`). One
/// offer, region or RTT entry per line, so a diff of two builds is readable.
pub fn stored_json(c: &Catalog) -> String {
    to_line_json(&CatalogFile::stored(c))
}

/// The audit JSON of a catalog: as stored, but with the full effective RTT matrix.
pub fn export_json(c: &Catalog) -> String {
    to_line_json(&CatalogFile::audit(c))
}

fn to_line_json(f: &CatalogFile) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "{{\"format\":{},\"version\":{},\"info\":{},\n",
        j(&f.format),
        f.version,
        j(&f.info)
    ));
    let list = |s: &mut String, name: &str, items: Vec<String>, last: bool| {
        s.push_str(&format!("\"{name}\":[\n"));
        let n = items.len();
        for (i, it) in items.into_iter().enumerate() {
            s.push_str(&it);
            s.push_str(if i + 1 < n { ",\n" } else { "\n" });
        }
        s.push_str(if last { "]}\n" } else { "],\n" });
    };
    list(&mut s, "regions", f.regions.iter().map(j).collect(), false);
    list(&mut s, "offers", f.offers.iter().map(j).collect(), false);
    list(&mut s, "rtt", f.rtt.iter().map(j).collect(), true);
    s
}

fn j<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).expect("catalog values serialise")
}

/// Gzip-compresses bytes with a fixed header (no name, no timestamp), so the same input always
/// gives the same file.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(bytes).expect("writing to memory");
    e.finish().expect("writing to memory")
}

/// The CSV export: `(file name, content)` for `offers.csv`, `regions.csv` and `rtt.csv` (the
/// effective symmetric matrix, one row per unordered pair of regions including each region
/// with itself, with an `estimated` flag).
pub fn export_csv(c: &Catalog) -> Vec<(&'static str, String)> {
    fn w() -> csv::Writer<Vec<u8>> {
        csv::WriterBuilder::new().from_writer(Vec::new())
    }
    fn done(w: csv::Writer<Vec<u8>>) -> String {
        String::from_utf8(w.into_inner().expect("memory")).expect("utf-8 input")
    }
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();

    let mut o = w();
    o.write_record([
        "provider",
        "region",
        "spec",
        "vcpu",
        "memory_gib",
        "arch",
        "gpu_model",
        "gpu_count",
        "price_usd_per_hour",
        "spot_usd_per_hour",
        "performance",
    ])
    .expect("memory");
    for x in c.offers() {
        o.write_record([
            x.provider.clone(),
            x.region.clone(),
            x.spec.clone(),
            x.vcpu.to_string(),
            x.memory_gib.to_string(),
            x.arch.to_string(),
            x.gpu_model.clone().unwrap_or_default(),
            x.gpu_count.to_string(),
            x.price_usd_per_hour.to_string(),
            opt(x.spot_usd_per_hour),
            opt(x.performance),
        ])
        .expect("memory");
    }

    let mut r = w();
    r.write_record([
        "provider",
        "region",
        "key",
        "display_name",
        "latitude",
        "longitude",
    ])
    .expect("memory");
    for x in c.regions() {
        r.write_record([
            x.provider.clone(),
            x.region.clone(),
            x.key().to_string(),
            x.display_name.clone(),
            x.latitude.to_string(),
            x.longitude.to_string(),
        ])
        .expect("memory");
    }

    let mut t = w();
    t.write_record(["from", "to", "ms", "estimated"])
        .expect("memory");
    for e in effective_pairs(c) {
        t.write_record([
            e.from.to_string(),
            e.to.to_string(),
            e.ms.to_string(),
            e.estimated.to_string(),
        ])
        .expect("memory");
    }
    vec![
        ("offers.csv", done(o)),
        ("regions.csv", done(r)),
        ("rtt.csv", done(t)),
    ]
}
