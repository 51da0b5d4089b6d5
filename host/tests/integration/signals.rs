//! Signals and shutdown: Ctrl-C or SIGTERM ends a run within a second with
//! 130 or 143 and no worker left behind; workers die with their parent.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rpool_wasm_tests::{Scratch, guests, shared_cache_dir};

/// The pids of `parent`'s child processes.
fn children(parent: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{parent}/task")).into_iter().flatten().flatten() {
        let listed = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        pids.extend(listed.split_whitespace().map(|p| p.parse::<u32>().unwrap()));
    }
    pids
}

fn alive(pid: u32) -> bool {
    // A zombie is dead for our purposes: it runs nothing.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

/// Starts a run of slow items on three workers and waits until they exist.
fn slow_run(output: &std::path::Path) -> (Child, Vec<u32>) {
    let child = Command::new(crate::BIN)
        .args(["run", guests::PROBE, "--func", "sleep_ms", "--map", "-", "-w", "3", "--chunksize", "1", "-o"])
        .arg(output)
        .env("RPOOL_WASM_CACHE_DIR", shared_cache_dir())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"[20000, 20000, 20000, 20000]").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let workers = children(child.id());
        if workers.len() == 3 {
            // Give them a moment to take their items.
            std::thread::sleep(Duration::from_millis(200));
            return (child, workers);
        }
        assert!(Instant::now() < deadline, "the workers did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stops_on(signal: &str, code: i32) {
    let s = Scratch::new();
    let output = s.path().join("out.json");
    let (mut child, workers) = slow_run(&output);
    let sent = Instant::now();
    Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(sent.elapsed() < Duration::from_secs(1), "took {:?}", sent.elapsed());
    assert_eq!(status.code(), Some(code));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("interrupted by SIG"), "{stderr}");
    for pid in workers {
        assert!(!alive(pid), "worker {pid} outlived the run");
    }
    let left: Vec<_> = std::fs::read_dir(s.path()).unwrap().collect();
    assert!(left.is_empty(), "no output file, partial or temporary: {left:?}");
}

#[test]
fn sigint_stops_the_run_with_130_and_no_orphans() {
    stops_on("-INT", 130);
}

#[test]
fn sigterm_stops_the_run_with_143_and_no_orphans() {
    stops_on("-TERM", 143);
}

#[test]
fn workers_die_when_their_parent_is_killed() {
    let s = Scratch::new();
    let (mut child, workers) = slow_run(&s.path().join("out.json"));
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while workers.iter().any(|&pid| alive(pid)) {
        assert!(Instant::now() < deadline, "workers outlived a killed parent: {workers:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn workers_ignore_sigint_and_leave_it_to_the_parent() {
    let pool = crate::pool(guests::PROBE).workers(1).build().unwrap();
    let pid = pool.worker_pids()[0];
    let pending = pool.apply_async::<_, u64>("sleep_ms", (300,)).unwrap();
    Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
    assert_eq!(pending.get().unwrap(), 300);
    assert_eq!(pool.worker_pids(), [pid], "the same worker is still serving");
}
