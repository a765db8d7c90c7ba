//! Server resource use from /proc: resident memory (VmRSS, VmHWM, PSS) and CPU time
//! (utime + stime) summed over the given processes and, optionally, their descendants.
//!
//! Sampling runs on its own thread every 100 ms, so peak RSS is seen even when it falls
//! back before the run ends; CPU time is cumulative, so its delta needs no fast sampling.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

/// The fields of /proc/PID/stat the benchmark needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub ppid: u32,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
}

/// Parses /proc/PID/stat. The command name (field 2) is in parentheses and may hold
/// spaces or parentheses itself, so fields are counted from the last `)`.
pub fn parse_stat(s: &str) -> Option<ProcStat> {
    let rest = &s[s.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) … utime(11) stime(12).
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(ProcStat {
        ppid,
        cpu_ticks: utime + stime,
    })
}

/// A `Key:   1234 kB` line of /proc/PID/status, in KiB.
pub fn parse_status_kb(s: &str, key: &str) -> Option<u64> {
    s.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// All processes descending from `roots` (not including them), from every /proc/*/stat.
pub fn descendants(roots: &[u32]) -> Vec<u32> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(stat) = read_stat(pid) {
                children.entry(stat.ppid).or_default().push(pid);
            }
        }
    }
    let mut found = Vec::new();
    let mut stack: Vec<u32> = roots.to_vec();
    while let Some(pid) = stack.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            if !found.contains(&child) && !roots.contains(&child) {
                found.push(child);
                stack.push(child);
            }
        }
    }
    found
}

fn read_stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn read_status(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status")).ok()
}

/// Clock ticks per second for /proc CPU fields; `getconf` avoids an unsafe `sysconf`.
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// CPU time this process has used so far, in milliseconds (for client-side overhead).
pub fn self_cpu_ms(ticks_per_sec: u64) -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_stat(&s))
        .map(|s| s.cpu_ticks as f64 * 1000.0 / ticks_per_sec as f64)
        .unwrap_or(0.0)
}

#[derive(Debug, Default)]
struct State {
    /// pid → (ticks at first sight, ticks at last sight).
    cpu: BTreeMap<u32, (u64, u64)>,
    idle_rss_kb: u64,
    peak_rss_kb: u64,
    idle_pss_kb: u64,
    peak_pss_kb: u64,
    last_rss_kb: u64,
    hwm_kb: BTreeMap<u32, u64>,
    samples: u64,
    /// Descendants of the roots, as last listed.
    tree: Vec<u32>,
}

/// Samples between readings of the process tree and of PSS.
const SLOW_EVERY: u64 = 10;

impl State {
    fn sample(&mut self, roots: &[u32], tree: bool, first: bool) {
        // The process tree and PSS are read every `SLOW_EVERY` samples only: reading
        // smaps_rollup walks every page a process maps, which for a database with large
        // shared buffers costs enough CPU to slow the server under test.
        let slow = first || self.samples.is_multiple_of(SLOW_EVERY);
        if tree && slow {
            self.tree = descendants(roots);
        }
        let mut pids: BTreeSet<u32> = roots.iter().copied().collect();
        pids.extend(self.tree.iter().copied());
        let (mut rss, mut pss) = (0, 0);
        for pid in pids {
            let (Some(stat), Some(status)) = (read_stat(pid), read_status(pid)) else {
                continue; // exited between listing and reading
            };
            // A process first seen after the start did all its work inside the window.
            let base = if first { stat.cpu_ticks } else { 0 };
            let entry = self.cpu.entry(pid).or_insert((base, base));
            entry.1 = stat.cpu_ticks;
            rss += parse_status_kb(&status, "VmRSS").unwrap_or(0);
            // PSS splits shared pages among their sharers, so summing it over forked
            // workers (or PostgreSQL backends) does not count shared memory many times.
            if slow {
                pss += std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                    .ok()
                    .and_then(|s| parse_status_kb(&s, "Pss"))
                    .unwrap_or(0);
            }
            if let Some(hwm) = parse_status_kb(&status, "VmHWM") {
                self.hwm_kb.insert(pid, hwm);
            }
        }
        if first {
            self.idle_rss_kb = rss;
            self.idle_pss_kb = pss;
        }
        self.peak_rss_kb = self.peak_rss_kb.max(rss);
        if slow {
            self.peak_pss_kb = self.peak_pss_kb.max(pss);
        }
        self.last_rss_kb = rss;
        self.samples += 1;
    }
}

/// What the probe saw between `start` and `stop`.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeSummary {
    pub pids: Vec<u32>,
    pub idle_rss_kib: u64,
    pub peak_rss_kib: u64,
    pub end_rss_kib: u64,
    /// Proportional set size sums: the fair total for multi-process servers.
    pub idle_pss_kib: u64,
    pub peak_pss_kib: u64,
    /// Sum of each process's own high-water mark; an upper bound, as peaks may not coincide.
    pub sum_hwm_kib: u64,
    pub cpu_ms: f64,
    pub samples: u64,
}

pub struct Probe {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<State>,
    roots: Vec<u32>,
    ticks: u64,
}

impl Probe {
    /// Takes the idle sample now, then keeps sampling every `interval` on a thread.
    pub fn start(roots: Vec<u32>, tree: bool, interval: Duration) -> anyhow::Result<Probe> {
        for &pid in &roots {
            anyhow::ensure!(
                read_stat(pid).is_some(),
                "--server-pid {pid}: no such process (cannot read /proc/{pid}/stat)"
            );
        }
        let mut state = State::default();
        state.sample(&roots, tree, true);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread_roots = roots.clone();
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(interval);
                state.sample(&thread_roots, tree, false);
            }
            state
        });
        Ok(Probe {
            stop,
            handle,
            roots,
            ticks: clock_ticks(),
        })
    }

    pub fn stop(self) -> ProbeSummary {
        self.stop.store(true, Ordering::Relaxed);
        let state = self.handle.join().unwrap_or_default();
        let ticks: u64 = state.cpu.values().map(|(a, b)| b.saturating_sub(*a)).sum();
        let mut pids: Vec<u32> = state.cpu.keys().copied().collect();
        if pids.is_empty() {
            pids = self.roots;
        }
        ProbeSummary {
            pids,
            idle_rss_kib: state.idle_rss_kb,
            peak_rss_kib: state.peak_rss_kb,
            end_rss_kib: state.last_rss_kb,
            idle_pss_kib: state.idle_pss_kb,
            peak_pss_kib: state.peak_pss_kb,
            sum_hwm_kib: state.hwm_kb.values().sum(),
            cpu_ms: ticks as f64 * 1000.0 / self.ticks as f64,
            samples: state.samples,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_command_name() {
        let s = "4242 (gunicorn: worker (x) [app]) S 4200 4200 1232 0 -1 4194560 5234 0 0 0 \
                 1250 375 0 0 20 0 3 0 175532 103133440 12389 18446744073709551615 1 1 0 0 0";
        assert_eq!(
            parse_stat(s),
            Some(ProcStat {
                ppid: 4200,
                cpu_ticks: 1625
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn parses_status_memory_lines() {
        let s = "Name:\tsextant\nVmPeak:\t  300000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n";
        assert_eq!(parse_status_kb(s, "VmRSS"), Some(40960));
        assert_eq!(parse_status_kb(s, "VmHWM"), Some(51234));
        assert_eq!(parse_status_kb(s, "VmSwap"), None);
        let rollup = "55d0-7ffe ---p 00000000 00:00 0 [rollup]\nRss:  4096 kB\nPss:  1500 kB\nPss_Anon: 900 kB\n";
        assert_eq!(parse_status_kb(rollup, "Pss"), Some(1500));
    }

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(read_stat(me).is_some());
        let probe = Probe::start(vec![me], true, Duration::from_millis(5)).unwrap();
        let summary = probe.stop();
        assert!(summary.idle_rss_kib > 0);
        assert!(summary.peak_rss_kib >= summary.idle_rss_kib);
    }
}
