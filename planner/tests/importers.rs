//! The importers on the real files in `../shared/catalog/`, and the embedded catalog.

use planner::catalog::{distance_km, estimate_rtt_ms, format, import};
use planner::{Arch, Catalog, CatalogError, RegionKey};
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

/// A path inside this crate's directory, read when the test runs (cargo sets
/// `CARGO_MANIFEST_DIR`): a path compiled in goes stale when cargo reuses a test binary built
/// from a checkout at another place with the same target directory.
fn in_crate(relative: &str) -> String {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("tests run under cargo");
    format!("{dir}/{relative}")
}

fn imported() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| {
        import::import_dir(Path::new(&in_crate("../../shared/catalog")))
            .expect("the shared catalog imports")
    })
}

fn key(s: &str) -> RegionKey {
    RegionKey::parse(s).unwrap()
}

fn offer<'a>(c: &'a Catalog, p: &str, r: &str, s: &str) -> &'a planner::Offer {
    let i = c
        .offer_index(p, r, s)
        .unwrap_or_else(|| panic!("{p}/{r}/{s} is in the catalog"));
    &c.offers()[i]
}

#[test]
fn embedded_catalog_is_a_fresh_import() {
    let bytes = std::fs::read(in_crate("data/catalog.json.gz")).unwrap();
    let mut committed = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut committed)
        .unwrap();
    let fresh = format::stored_json(imported());
    assert!(
        committed == fresh,
        "planner/data/catalog.json.gz is stale: run `tumblebug-planner catalog build --from ../shared/catalog --out planner/data/catalog.json.gz`"
    );
    let e = Catalog::embedded();
    assert_eq!(e.offers(), imported().offers());
    assert_eq!(e.regions(), imported().regions());
    // `Catalog::load` on the directory is the same import.
    assert_eq!(
        Catalog::load(Path::new(&in_crate("../../shared/catalog")))
            .unwrap()
            .offers(),
        e.offers()
    );
}

#[test]
fn aws_azure_gcp_have_shapes_and_prices_in_many_regions() {
    let c = imported();
    for (p, min_offers, min_regions) in [
        ("aws", 10_000, 30),
        ("azure", 10_000, 35),
        ("gcp", 5_000, 40),
    ] {
        let offers: Vec<_> = c.offers().iter().filter(|o| o.provider == p).collect();
        let mut regions: Vec<&str> = offers.iter().map(|o| o.region.as_str()).collect();
        regions.sort_unstable();
        regions.dedup();
        assert!(offers.len() >= min_offers, "{p}: {} offers", offers.len());
        assert!(
            regions.len() >= min_regions,
            "{p}: {} regions",
            regions.len()
        );
        assert!(
            offers.iter().any(|o| o.spot_usd_per_hour.is_some()),
            "{p}: spot prices"
        );
    }
    for o in c.offers() {
        assert!(
            o.vcpu > 0 && o.memory_gib > 0.0 && o.price_usd_per_hour > 0.0,
            "{o:?}"
        );
        assert!(o.spot_usd_per_hour.is_none_or(|s| s > 0.0), "{o:?}");
        assert!(
            c.region(&o.region_key()).is_some(),
            "offer region has coordinates: {o:?}"
        );
    }
    for p in ["alibaba", "tencent", "ibm"] {
        assert!(
            c.offers().iter().any(|o| o.provider == p),
            "{p} from cloudspec.csv"
        );
    }
}

#[test]
fn sources_are_merged_by_documented_precedence() {
    let c = imported();
    // AWS: libcloud shape and price, SkyPilot spot.
    let m5 = offer(c, "aws", "us-east-1", "m5.large");
    assert_eq!((m5.vcpu, m5.memory_gib, m5.arch), (2, 8.0, Arch::X86_64));
    assert_eq!(m5.price_usd_per_hour, 0.096);
    assert!(m5.spot_usd_per_hour.is_some());
    assert_eq!(offer(c, "aws", "us-east-1", "m6g.large").arch, Arch::Arm64);
    let p3 = offer(c, "aws", "us-east-1", "p3.2xlarge");
    assert_eq!((p3.gpu_model.as_deref(), p3.gpu_count), (Some("V100"), 1));
    // AWS region only libcloud prices (SkyPilot has 22 regions).
    assert!(c.offer_index("aws", "il-central-1", "m5.large").is_some());
    // Azure: SkyPilot shapes joined to libcloud prices in regions SkyPilot lacks.
    let d2 = offer(c, "azure", "koreacentral", "Standard_D2s_v3");
    assert_eq!((d2.vcpu, d2.memory_gib), (2, 8.0));
    assert_eq!(
        offer(c, "azure", "eastus", "Standard_D2ps_v5").arch,
        Arch::Arm64
    );
    // GCP: SkyPilot, columns by header name, zones collapsed, GPUs by type name.
    let n2 = offer(c, "gcp", "us-central1", "n2-standard-8");
    assert_eq!((n2.vcpu, n2.memory_gib), (8, 32.0));
    assert!(
        n2.price_usd_per_hour > 0.3 && n2.price_usd_per_hour < 0.5,
        "{n2:?}"
    );
    let a2 = offer(c, "gcp", "us-central1", "a2-highgpu-1g");
    assert_eq!((a2.gpu_model.as_deref(), a2.gpu_count), (Some("A100"), 1));
    assert_eq!(
        offer(c, "gcp", "us-central1", "t2a-standard-1").arch,
        Arch::Arm64
    );
    // CB-Tumblebug cloudspec: naming-rule shapes and performance scores.
    let g6 = offer(c, "alibaba", "ap-northeast-2", "ecs.g6e.large");
    assert_eq!((g6.vcpu, g6.memory_gib), (2, 8.0));
    assert_eq!(g6.performance, Some(78.43));
    assert_eq!(offer(c, "ibm", "us-south", "bx2-2x8").vcpu, 2);
    assert!(
        c.offers()
            .iter()
            .filter(|o| o.performance.is_some())
            .count()
            > 500
    );
    // What is missing is said.
    let notes = c.info().notes.join("\n");
    assert!(notes.contains("accelerator-only"), "{notes}");
    assert!(notes.contains("cloudit"), "{notes}");
    assert!(notes.contains("without coordinates"), "{notes}");
}

/// The raw matrix cell [row][col], parsed independently of the importer.
fn raw_rtt(from: &str, to: &str) -> Option<f64> {
    let text = std::fs::read_to_string(in_crate(
        "../../shared/catalog/tumblebug/cloudlatencymap.csv",
    ))
    .unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == to)?;
    let row = lines.find(|l| l.split(',').next() == Some(from))?;
    row.split(',').nth(col)?.trim().parse().ok()
}

#[test]
fn measured_rtt_is_the_larger_direction() {
    let c = imported();
    let mut checked = 0;
    for (a, b) in [
        ("aws-ap-northeast-2", "gcp-asia-northeast3"),
        ("aws-us-east-1", "azure-koreacentral"),
        ("gcp-europe-west1", "alibaba-eu-central-1"),
        ("tencent-ap-seoul", "ibm-jp-tok"),
    ] {
        let (x, y) = (raw_rtt(a, b), raw_rtt(b, a));
        let want = match (x, y) {
            (Some(x), Some(y)) => x.max(y),
            (Some(v), None) | (None, Some(v)) => v,
            (None, None) => continue,
        };
        let got = c.rtt(&key(a), &key(b)).unwrap();
        assert!(!got.estimated, "{a} {b}");
        assert_eq!(got.ms, want, "{a} {b}");
        assert_eq!(c.rtt(&key(b), &key(a)), Some(got), "symmetric");
        checked += 1;
    }
    assert!(checked >= 3);
}

#[test]
fn unmeasured_pairs_are_estimated_from_distance_and_flagged() {
    let c = imported();
    let (a, b) = (key("gcp-us-west1"), key("aws-us-east-1"));
    let r = c.rtt(&a, &b).unwrap();
    assert!(r.estimated);
    let (ra, rb) = (c.region(&a).unwrap(), c.region(&b).unwrap());
    let d = distance_km(ra.latitude, ra.longitude, rb.latitude, rb.longitude);
    assert_eq!(r.ms, estimate_rtt_ms(d));
    assert!(r.ms > 40.0 && r.ms < 90.0, "{r:?}");
}

#[test]
fn the_rtt_model_fits_the_measured_pairs() {
    // The documented claim: median relative error of the estimate on measured pairs < 25 %.
    let c = imported();
    let mut errs = Vec::new();
    let n = c.regions().len();
    for i in 0..n {
        for j in i + 1..n {
            let r = c.rtt_by_index(i, j);
            if r.estimated {
                continue;
            }
            let (a, b) = (&c.regions()[i], &c.regions()[j]);
            let est = estimate_rtt_ms(distance_km(
                a.latitude,
                a.longitude,
                b.latitude,
                b.longitude,
            ));
            errs.push(((est - r.ms) / r.ms).abs());
        }
    }
    errs.sort_by(f64::total_cmp);
    assert!(errs.len() > 5000, "{} measured pairs", errs.len());
    let median = errs[errs.len() / 2];
    assert!(median < 0.25, "median relative error {median}");
}

#[test]
fn json_export_loads_back_into_the_same_catalog() {
    let c = Catalog::embedded_ref();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.json");
    std::fs::write(&path, format::export_json(c)).unwrap();
    let back = Catalog::load(&path).unwrap();
    assert_eq!(back.offers(), c.offers());
    assert_eq!(back.regions(), c.regions());
    let n = c.regions().len();
    for i in (0..n).step_by(7) {
        for j in (0..n).step_by(5) {
            assert_eq!(back.rtt_by_index(i, j), c.rtt_by_index(i, j));
        }
    }
    // The compressed form loads too.
    let gz = dir.path().join("catalog.json.gz");
    std::fs::write(&gz, format::gzip(format::stored_json(c).as_bytes())).unwrap();
    assert_eq!(Catalog::load(&gz).unwrap().offers(), c.offers());
}

#[test]
fn csv_export_has_every_offer_region_and_pair() {
    let c = Catalog::embedded_ref();
    let files = format::export_csv(c);
    let lines = |name: &str| {
        files
            .iter()
            .find(|f| f.0 == name)
            .unwrap()
            .1
            .lines()
            .count()
            - 1
    };
    let n = c.regions().len();
    assert_eq!(lines("offers.csv"), c.offers().len());
    assert_eq!(lines("regions.csv"), n);
    assert_eq!(lines("rtt.csv"), n * (n + 1) / 2);
    let rtt = &files.iter().find(|f| f.0 == "rtt.csv").unwrap().1;
    assert!(rtt.starts_with("from,to,ms,estimated\n"));
    assert!(rtt.contains(",true\n") && rtt.contains(",false\n"));
}

#[test]
fn a_partial_directory_imports_what_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let tb = dir.path().join("tumblebug");
    std::fs::create_dir_all(tb.join("v0.8.0")).unwrap();
    std::fs::copy(
        in_crate("../../shared/catalog/tumblebug/cloudinfo.yaml"),
        tb.join("cloudinfo.yaml"),
    )
    .unwrap();
    // Without any priced file there is nothing to plan with.
    assert!(matches!(
        Catalog::load(dir.path()),
        Err(CatalogError::Empty { .. })
    ));
    std::fs::copy(
        in_crate("../../shared/catalog/tumblebug/v0.8.0/cloudspec.csv"),
        tb.join("v0.8.0/cloudspec.csv"),
    )
    .unwrap();
    let c = Catalog::load(dir.path()).unwrap();
    assert!(c.offers().iter().any(|o| o.provider == "alibaba"));
    // Only the naming-rule providers have shapes without the other files.
    assert!(!c.offers().iter().any(|o| o.provider == "aws"));
    // Without the latency matrix every RTT is an estimate.
    let (a, b) = (key("alibaba-ap-northeast-2"), key("alibaba-us-east-1"));
    assert!(c.rtt(&a, &b).unwrap().estimated);
}

#[test]
fn gce_prices_derived_from_libcloud_rates_agree_with_skypilot() {
    let dir = tempfile::tempdir().unwrap();
    let lc = dir.path().join("libcloud");
    std::fs::create_dir_all(&lc).unwrap();
    std::fs::copy(
        in_crate("../../shared/catalog/libcloud/pricing.json"),
        lc.join("pricing.json"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("tumblebug")).unwrap();
    std::fs::copy(
        in_crate("../../shared/catalog/tumblebug/cloudinfo.yaml"),
        dir.path().join("tumblebug/cloudinfo.yaml"),
    )
    .unwrap();
    let derived = Catalog::load(dir.path()).unwrap();
    let d = offer(&derived, "gcp", "us-central1", "n2-standard-8");
    assert_eq!((d.vcpu, d.memory_gib), (8, 32.0));
    let s = offer(imported(), "gcp", "us-central1", "n2-standard-8");
    let rel = (d.price_usd_per_hour - s.price_usd_per_hour).abs() / s.price_usd_per_hour;
    assert!(
        rel < 0.1,
        "derived {} vs SkyPilot {}",
        d.price_usd_per_hour,
        s.price_usd_per_hour
    );
}

#[test]
fn corrupt_files_are_reported_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.json");
    std::fs::write(&p, "{ not json").unwrap();
    let e = Catalog::load(&p).unwrap_err();
    assert!(matches!(e, CatalogError::Parse { .. }));
    assert!(e.to_string().contains("bad.json"), "{e}");
    let e = Catalog::load(&dir.path().join("missing.json")).unwrap_err();
    assert!(matches!(e, CatalogError::Io { .. }), "{e}");
}
