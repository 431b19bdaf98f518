//! The delay router's decisions, without I/O: which region an address lies in, how long a packet
//! between two addresses is held, and the queue that holds packets until then. The router's
//! dealings with the host (TUN device, routes, its process) are in `router.rs`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::config::RegionLatency;
use crate::net::Cidr;

/// The one-way delays between the vNets of one state directory.
#[derive(Debug)]
pub(crate) struct Delays {
    /// Each vNet's subnet, with its region.
    subnets: Vec<(Cidr, String)>,
    /// Half the round-trip time between two regions, for each pair given. A list, not a map:
    /// there are few pairs, and a lookup by borrowed names allocates nothing per packet.
    half_rtt: Vec<([String; 2], Duration)>,
}

impl Delays {
    /// The delays `latency` gives the vNets whose subnets and regions are `subnets`.
    pub(crate) fn new(latency: &[RegionLatency], subnets: Vec<(Cidr, String)>) -> Delays {
        let half_rtt = latency
            .iter()
            .map(|entry| {
                // Microseconds, so that an odd number of milliseconds still adds up to the RTT.
                let half = Duration::from_micros(u64::from(entry.rtt_ms) * 500);
                (entry.regions.clone(), half)
            })
            .collect();
        Delays { subnets, half_rtt }
    }

    fn region_of(&self, address: Ipv4Addr) -> Option<&str> {
        let host = Cidr {
            base: u32::from(address),
            prefix: 32,
        };
        self.subnets
            .iter()
            .find(|(subnet, _)| subnet.contains(host))
            .map(|(_, region)| region.as_str())
    }

    fn between(&self, a: &str, b: &str) -> Duration {
        self.half_rtt
            .iter()
            .find(|([c, d], _)| (a, b) == (c, d) || (a, b) == (d, c))
            .map_or(Duration::ZERO, |(_, half)| *half)
    }

    /// How long a packet from `source` to `destination` is held: half the round-trip time
    /// between their regions; zero when either address lies in no vNet (the host, or a vNet
    /// created since the router last read the records) or no time is given for the pair.
    pub(crate) fn one_way(&self, source: Ipv4Addr, destination: Ipv4Addr) -> Duration {
        match (self.region_of(source), self.region_of(destination)) {
            (Some(a), Some(b)) if a != b => self.between(a, b),
            _ => Duration::ZERO,
        }
    }

    /// True if and only if some two vNets lie in regions with a delay between them: only then is
    /// the router needed.
    pub(crate) fn any(&self) -> bool {
        self.subnets.iter().enumerate().any(|(i, (_, a))| {
            self.subnets[i + 1..]
                .iter()
                .any(|(_, b)| a != b && !self.between(a, b).is_zero())
        })
    }
}

/// The source and destination addresses of an IPv4 packet; `None` for anything else (IPv6, a
/// header cut short), which the router passes on at once.
pub(crate) fn addresses(packet: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr)> {
    if packet.len() < 20 || packet[0] >> 4 != 4 {
        return None;
    }
    let address =
        |at: usize| Ipv4Addr::new(packet[at], packet[at + 1], packet[at + 2], packet[at + 3]);
    Some((address(12), address(16)))
}

/// Items held until their release time; items due at the same time leave in the order they
/// came, so that the packets of one flow, which all wait the same time, are not reordered.
#[derive(Debug)]
pub(crate) struct DelayQueue<T> {
    heap: BinaryHeap<Held<T>>,
    arrivals: u64,
}

#[derive(Debug)]
struct Held<T> {
    release: Instant,
    arrival: u64,
    item: T,
}

impl<T> Held<T> {
    fn key(&self) -> (Instant, u64) {
        (self.release, self.arrival)
    }
}

impl<T> PartialEq for Held<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<T> Eq for Held<T> {}

impl<T> PartialOrd for Held<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Held<T> {
    /// Reversed, so that [`BinaryHeap`] (a max-heap) gives the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

impl<T> DelayQueue<T> {
    pub(crate) fn new() -> DelayQueue<T> {
        DelayQueue {
            heap: BinaryHeap::new(),
            arrivals: 0,
        }
    }

    /// Holds `item` until `release`.
    pub(crate) fn push(&mut self, release: Instant, item: T) {
        self.arrivals += 1;
        self.heap.push(Held {
            release,
            arrival: self.arrivals,
            item,
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// When the next item is due, if any is held.
    pub(crate) fn next_release(&self) -> Option<Instant> {
        self.heap.peek().map(|held| held.release)
    }

    /// The earliest item if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<T> {
        if self.next_release()? <= now {
            self.heap.pop().map(|held| held.item)
        } else {
            None
        }
    }
}
