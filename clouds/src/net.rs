//! IPv4 arithmetic for the drivers' addresses: CIDR parsing, private addresses from a subnet,
//! and (for the simulator) public addresses from ranges that are never routed.

use std::net::Ipv4Addr;

/// An IPv4 network: base address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    pub(crate) base: u32,
    pub(crate) prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`; the address must be the network's first address.
    pub(crate) fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, prefix) = text
            .trim()
            .split_once('/')
            .ok_or("it is not in the form a.b.c.d/n")?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("'{addr}' is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("'{prefix}' is not a prefix length from 0 to 32"))?;
        let base = u32::from(addr);
        let cidr = Cidr { base, prefix };
        if base & !cidr.mask() != 0 {
            return Err(format!(
                "{addr} is not the first address of a /{prefix} network (that would be {})",
                Ipv4Addr::from(base & cidr.mask())
            ));
        }
        Ok(cidr)
    }

    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    /// Number of addresses in the network.
    pub(crate) fn size(self) -> u64 {
        1u64 << (32 - self.prefix)
    }

    /// True if and only if `inner` lies entirely inside `self`.
    pub(crate) fn contains(self, inner: Cidr) -> bool {
        inner.prefix >= self.prefix && inner.base & self.mask() == self.base
    }
}

/// The address at `offset` inside `cidr`, as text.
pub(crate) fn address(cidr: Cidr, offset: u32) -> String {
    Ipv4Addr::from(cidr.base.wrapping_add(offset)).to_string()
}

/// The lowest host offset from `first` up to the last address before the broadcast address that
/// is not in `used` (sorted ascending), or `None` when the subnet is full.
pub(crate) fn lowest_free(cidr: Cidr, first: u32, used: &[u32]) -> Option<u32> {
    let last = cidr.size().saturating_sub(2);
    let mut candidate = u64::from(first);
    for &u in used {
        let u = u64::from(u);
        if u < candidate {
            continue;
        }
        if u > candidate {
            break;
        }
        candidate += 1;
    }
    (candidate <= last).then_some(candidate as u32)
}

/// Public addresses: RFC 5737's three documentation ranges (192.0.2.0/24, 198.51.100.0/24,
/// 203.0.113.0/24), then RFC 2544's benchmarking range 198.18.0.0/15. None of them is routed on
/// the Internet: they are labels, never contacted. `n` counts from 0 and wraps.
pub(crate) fn public_address(n: u64) -> String {
    const DOC: [[u8; 3]; 3] = [[203, 0, 113], [198, 51, 100], [192, 0, 2]];
    let doc_hosts = 254u64;
    let bench_hosts = (1u64 << 17) - 2;
    let n = n % (3 * doc_hosts + bench_hosts);
    if n < 3 * doc_hosts {
        let [a, b, c] = DOC[(n / doc_hosts) as usize];
        let d = (n % doc_hosts + 1) as u8;
        return Ipv4Addr::new(a, b, c, d).to_string();
    }
    let host = (n - 3 * doc_hosts + 1) as u32;
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + host).to_string()
}

impl Cidr {
    /// The `index`-th network of prefix length `prefix` inside `self` (index 0 starts at
    /// `self.base`), or `None` when there is no such network.
    pub(crate) fn subnet(self, prefix: u8, index: u64) -> Option<Cidr> {
        if prefix < self.prefix || prefix > 32 || index >= self.size() >> (32 - prefix) {
            return None;
        }
        let base = u64::from(self.base) + (index << (32 - prefix));
        Some(Cidr {
            base: base as u32,
            prefix,
        })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}
