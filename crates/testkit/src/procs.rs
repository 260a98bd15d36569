//! The benchmarks' view of processes: the CPU time a process, or a whole tree
//! of them (Chromium's, a server and the ffmpeg it spawns), has spent, read
//! from /proc.

use anyhow::Context as _;

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// CPU ticks (user + system) of every descendant of `root`, and of `root`
/// itself if `with_root`. A process that exits during the count is not counted.
pub fn tree_ticks(root: u32, with_root: bool) -> anyhow::Result<u64> {
    // Processes come and go: one that vanished is simply not counted.
    let procs: Vec<(u32, u32, u64)> = pids()?
        .filter_map(|pid| stat(pid).ok().map(|(ppid, ticks)| (pid, ppid, ticks)))
        .collect();
    let mut total = if with_root { stat(root)?.1 } else { 0 };
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let pid = tree[i];
        for &(child, ppid, ticks) in &procs {
            if ppid == pid {
                tree.push(child);
                total += ticks;
            }
        }
        i += 1;
    }
    Ok(total)
}

/// The children of `pid` whose command name (/proc/PID/comm) is `name`.
pub fn children_named(pid: u32, name: &str) -> anyhow::Result<Vec<u32>> {
    Ok(pids()?
        .filter(|&child| {
            let comm = std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
            comm.trim() == name && stat(child).is_ok_and(|(ppid, _)| ppid == pid)
        })
        .collect())
}

/// Every process id in /proc now.
fn pids() -> anyhow::Result<impl Iterator<Item = u32>> {
    Ok(std::fs::read_dir("/proc")?.filter_map(|entry| {
        entry
            .ok()?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
    }))
}

/// (parent pid, user + system ticks) from /proc/PID/stat.
fn stat(pid: u32) -> anyhow::Result<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; the rest follows its ')'.
    let rest = text.rsplit_once(')').context("odd stat line")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state(3) ppid(4) … utime(14) stime(15), 1-based in proc(5).
    let ppid = fields.get(1).context("no ppid")?.parse()?;
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok((ppid, utime + stime))
}

/// CPU ticks (user + system) of one process.
pub fn ticks(pid: u32) -> anyhow::Result<u64> {
    Ok(stat(pid)?.1)
}
