//! Bounded parallelism on plain threads: SSH work is blocking (libssh2), so each job gets its own
//! thread, and a limit keeps a thousand-host MCIS from opening a thousand sessions at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Applies `f` to every item, at most `limit` at a time (at least one), and returns the results in
/// the items' order.
pub(crate) fn parallel_map<T, R, F>(items: &[T], limit: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let workers = limit.max(1).min(items.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = f(item);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every index is taken by exactly one worker"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[test]
    fn keeps_order_and_respects_the_limit() {
        for limit in [0, 1, 3, 100] {
            let running = AtomicUsize::new(0);
            let peak = AtomicUsize::new(0);
            let items: Vec<u32> = (0..20).collect();
            let out = parallel_map(&items, limit, |&x| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
                x * 2
            });
            assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
            assert!(peak.load(Ordering::SeqCst) <= limit.max(1), "limit {limit}");
        }
        assert!(parallel_map(&[] as &[u8], 4, |_| 1).is_empty());
    }
}
