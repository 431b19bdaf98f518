//! Maximal cliques of the region compatibility graph ("RTT <= bound"), for the clique form of
//! the latency constraint.
//!
//! The graph is held in `petgraph`; the enumeration is Bron-Kerbosch with Tomita pivoting over
//! bitsets, capped: past the cap the caller falls back to pairwise conflict rows, which are
//! weaker in the LP relaxation but always small enough to write down.

use petgraph::graph::{NodeIndex, UnGraph};

/// A set of vertex indices as a bitset.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Bits(Vec<u64>);

impl Bits {
    fn empty(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn full(n: usize) -> Bits {
        let mut b = Bits::empty(n);
        for i in 0..n {
            b.set(i);
        }
        b
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
    fn and(&self, o: &Bits) -> Bits {
        Bits(self.0.iter().zip(&o.0).map(|(a, b)| a & b).collect())
    }
    fn and_not(&self, o: &Bits) -> Bits {
        Bits(self.0.iter().zip(&o.0).map(|(a, b)| a & !b).collect())
    }
    fn or(&self, o: &Bits) -> Bits {
        Bits(self.0.iter().zip(&o.0).map(|(a, b)| a | b).collect())
    }
    fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let t = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(wi * 64 + t)
            })
        })
    }
}

/// The compatibility graph: vertex `i` is region `i`; an edge joins two regions whose RTT is at
/// most the bound.
pub fn compatibility_graph(
    n: usize,
    compatible: impl Fn(usize, usize) -> bool,
) -> UnGraph<usize, ()> {
    let mut g = UnGraph::with_capacity(n, n * 4);
    for i in 0..n {
        g.add_node(i);
    }
    for i in 0..n {
        for j in i + 1..n {
            if compatible(i, j) {
                g.add_edge(NodeIndex::new(i), NodeIndex::new(j), ());
            }
        }
    }
    g
}

/// All maximal cliques of `g`, each sorted, in lexicographic order; `None` when there are more
/// than `cap`.
pub fn maximal_cliques(g: &UnGraph<usize, ()>, cap: usize) -> Option<Vec<Vec<usize>>> {
    let n = g.node_count();
    let mut adj = vec![Bits::empty(n); n];
    for e in g.edge_indices() {
        let (a, b) = g.edge_endpoints(e).expect("edge exists");
        adj[a.index()].set(b.index());
        adj[b.index()].set(a.index());
    }
    let mut out = Vec::new();
    let mut r = Vec::new();
    if !bk(&adj, &mut r, Bits::full(n), Bits::empty(n), &mut out, cap) {
        return None;
    }
    for c in &mut out {
        c.sort_unstable();
    }
    out.sort();
    Some(out)
}

/// Returns `false` when the cap was hit.
fn bk(
    adj: &[Bits],
    r: &mut Vec<usize>,
    p: Bits,
    mut x: Bits,
    out: &mut Vec<Vec<usize>>,
    cap: usize,
) -> bool {
    if p.is_empty() {
        if x.is_empty() {
            if out.len() >= cap {
                return false;
            }
            out.push(r.clone());
        }
        return true;
    }
    // Pivot: the vertex of P u X with the most neighbours in P (Tomita), lowest index on ties.
    let px = p.or(&x);
    let pivot = px
        .iter()
        .max_by(|&a, &b| {
            adj[a]
                .and(&p)
                .count()
                .cmp(&adj[b].and(&p).count())
                .then(b.cmp(&a))
        })
        .expect("P is not empty");
    let mut p = p;
    let candidates: Vec<usize> = p.and_not(&adj[pivot]).iter().collect();
    for v in candidates {
        r.push(v);
        let ok = bk(adj, r, p.and(&adj[v]), x.and(&adj[v]), out, cap);
        r.pop();
        if !ok {
            return false;
        }
        p.clear(v);
        x.set(v);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_all_maximal_cliques() {
        // 0-1-2 triangle, 2-3 edge, 4 isolated.
        let edges = [(0, 1), (1, 2), (0, 2), (2, 3)];
        let g = compatibility_graph(5, |a, b| edges.contains(&(a, b)) || edges.contains(&(b, a)));
        let c = maximal_cliques(&g, 100).unwrap();
        assert_eq!(c, vec![vec![0, 1, 2], vec![2, 3], vec![4]]);
        assert_eq!(maximal_cliques(&g, 2), None, "cap hit");
    }

    #[test]
    fn matches_brute_force_on_random_graphs() {
        let mut seed = 7u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..50 {
            let n = 1 + (rnd() % 9) as usize;
            let mut e = vec![vec![false; n]; n];
            let pairs: Vec<(usize, usize)> = (0..n)
                .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
                .collect();
            for (i, j) in pairs {
                let b = rnd() % 3 != 0;
                e[i][j] = b;
                e[j][i] = b;
            }
            let g = compatibility_graph(n, |a, b| e[a][b]);
            let got = maximal_cliques(&g, 10_000).unwrap();
            let is_clique = |m: u32| {
                (0..n).all(|i| {
                    (0..n).all(|j| i == j || m & (1 << i) == 0 || m & (1 << j) == 0 || e[i][j])
                })
            };
            let mut want = Vec::new();
            for m in 1u32..(1 << n) {
                if is_clique(m) && (0..n).all(|v| m & (1 << v) != 0 || !is_clique(m | (1 << v))) {
                    want.push((0..n).filter(|&i| m & (1 << i) != 0).collect::<Vec<_>>());
                }
            }
            want.sort();
            assert_eq!(got, want);
        }
    }
}
