//! The benchmarks' view of the processes they run: start a server and wait for
//! the line that says it is ready, kill it when done, and read its CPU time and
//! memory from /proc.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context as _};

/// Clock ticks per second of /proc's CPU times (USER_HZ).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// A server process, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a server and returns it with what follows `marker` in its output.
pub fn start(mut cmd: Command, marker: &str) -> anyhow::Result<(Server, String)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let server = Server(child);
    for line in BufReader::new(stdout).lines() {
        if let Some(rest) = line?.strip_prefix(marker) {
            return Ok((server, rest.trim().to_owned()));
        }
    }
    bail!("{cmd:?} exited before it was ready")
}

/// User + system CPU ticks of a process (fields 14 and 15 of /proc/PID/stat).
pub fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = stat.rsplit_once(')').context("odd stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok(f.get(11).context("utime")?.parse::<u64>()? + f.get(12).context("stime")?.parse::<u64>()?)
}

pub fn rss_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .context("no VmRSS")?;
    Ok(line.trim().trim_end_matches("kB").trim().parse()?)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
