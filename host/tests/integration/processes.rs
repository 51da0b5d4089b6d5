//! Real processes: each worker's environment, the compile-once cache, and
//! workers that die.

use std::time::{Duration, Instant};

use rpool_wasm::{DirGrant, TaskError};
use rpool_wasm_tests::{Cli, Scratch, guests};
use serde_json::Value;

use crate::{BIN, pool};

#[test]
fn each_worker_sees_its_index_and_the_pool_size() {
    let pool = pool(guests::TUTORIAL).workers(3).build().unwrap();
    // Long enough items that every worker gets some.
    let _: Vec<i64> = pool.func("slow_task").chunksize(1).starmap((0..6).map(|x| (x, 100))).unwrap();
    let seen: Vec<Value> = pool.func("whoami").chunksize(1).map(0..30).unwrap();
    assert!(seen.iter().all(|w| w["workers"] == 3), "{seen:?}");
    assert!(seen.iter().all(|w| w["worker"].as_u64().unwrap() < 3), "{seen:?}");
    let pids = pool.worker_pids();
    assert_eq!(pids.len(), 3);
    let mut unique = pids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3, "three distinct processes: {pids:?}");
    for pid in &pids {
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
        assert!(cmdline.contains("__rpool-worker"), "{pid} is a worker process: {cmdline:?}");
    }
}

#[test]
fn the_module_is_compiled_once_into_the_cache_and_reused() {
    let cache = Scratch::new();
    let run = || {
        Cli::new(BIN)
            .env("RPOOL_WASM_CACHE_DIR", cache.path())
            .args(["run", guests::SQUARE, "--map", "-", "-w", "4"])
            .stdin("[1, 2, 3]")
            .run()
    };
    assert_eq!(run().success(), "[1,4,9]\n");
    let artifacts = || -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.clone(), std::fs::metadata(&p).unwrap().modified().unwrap()))
            .collect()
    };
    let first = artifacts();
    assert_eq!(first.len(), 1, "four workers, one compiled artifact: {first:?}");
    assert!(first[0].0.extension().is_some_and(|e| e == "cwasm"));
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(run().success(), "[1,4,9]\n");
    assert_eq!(artifacts(), first, "the second run found the artifact and did not compile again");
}

/// A pool of the probe guest whose tasks may write to `scratch` (as `/sign`).
fn marking_pool(scratch: &Scratch, workers: usize) -> rpool_wasm::PoolBuilder {
    pool(guests::PROBE).workers(workers).dir(DirGrant::parse(&format!("{}::/sign", scratch.path().display()), false))
}

/// Waits until the item that creates `name` in `scratch` is running.
fn wait_for_mark(scratch: &Scratch, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !scratch.path().join(name).exists() {
        assert!(Instant::now() < deadline, "the item that marks {name} never started");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_killed_worker_is_replaced_and_its_item_runs_again() {
    let scratch = Scratch::new();
    let pool = marking_pool(&scratch, 1).build().unwrap();
    let before = pool.worker_pids();
    let items = [("/sign/first", 800, 2), ("/sign/second", 0, 3), ("/sign/third", 0, 4)];
    let pending = pool.func("mark_then_sleep").chunksize(1).starmap_async::<_, i64>(items).unwrap();
    wait_for_mark(&scratch, "first");
    let status = std::process::Command::new("kill").args(["-9", &before[0].to_string()]).status().unwrap();
    assert!(status.success());
    assert_eq!(pending.get().unwrap(), [4, 9, 16], "every item completes exactly once");
    let after = pool.worker_pids();
    assert_eq!(after.len(), 1);
    assert_ne!(after, before, "a replacement worker runs");
    assert_eq!(pool.retried_items(), 1, "the item it was running ran again, once");
}

#[test]
fn an_item_whose_worker_keeps_dying_fails_naming_the_signal() {
    let scratch = Scratch::new();
    let pool = marking_pool(&scratch, 1).retries(0).build().unwrap();
    let pid = pool.worker_pids()[0];
    let pending = pool.apply_async::<_, i64>("mark_then_sleep", ("/sign/running", 5000, 5)).unwrap();
    wait_for_mark(&scratch, "running");
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    let err = pending.get().unwrap_err();
    let TaskError::WorkerLost { index, status, .. } = &err else { panic!("unexpected {err:?}") };
    assert_eq!(*index, 0);
    assert!(status.contains("signal 9"), "{err}");
    let after: i64 = pool.apply("mark_then_sleep", ("/sign/after", 0, 6)).unwrap();
    assert_eq!(after, 36, "the pool goes on with a replacement");
    assert_eq!(pool.retried_items(), 0, "with no retries, nothing ran again");
}

#[test]
fn killing_workers_again_and_again_loses_nothing_and_duplicates_nothing() {
    let pool = pool(guests::PROBE).workers(2).retries(10).build().unwrap();
    let items: Vec<u64> = (0..12).map(|i| 150 + i).collect();
    let results: Vec<u64> = std::thread::scope(|scope| {
        let pending = pool.func("sleep_ms").chunksize(1).map_async::<_, u64>(&items).unwrap();
        scope.spawn(|| {
            for round in 0..5 {
                std::thread::sleep(Duration::from_millis(250));
                let pids = pool.worker_pids();
                if let Some(pid) = pids.get(round % pids.len().max(1)) {
                    let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
                }
            }
        });
        pending.get().unwrap()
    });
    assert_eq!(results, items, "every result arrived exactly once, in its place");
    assert!(pool.retried_items() > 0, "killed workers' items ran again");
}

#[test]
fn killed_workers_lose_none_of_the_tiny_one_item_chunks_that_travel_together() {
    let pool = pool(guests::TUTORIAL).workers(2).retries(10).build().unwrap();
    let before = crate::all_worker_pids(&pool);
    let n = 300_000u64;
    let results = pool.func("square").chunksize(1).imap_unordered::<_, u64>(0..n).unwrap();
    let mut seen = vec![false; n as usize];
    let mut got = 0;
    for (index, result) in results {
        // Kills while many frames of tiny items are in flight.
        if got == 50_000 || got == 150_000 {
            let pid = pool.worker_pids()[got / 100_000];
            let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        got += 1;
        assert_eq!(result.unwrap(), (index as u64) * (index as u64));
        assert!(!std::mem::replace(&mut seen[index], true), "item {index} answered twice");
    }
    assert_eq!(got, n as usize, "every item answered");
    let after = pool.worker_pids();
    assert!(
        before.iter().all(|pid| !after.contains(pid)),
        "both workers were killed and replaced: {before:?} {after:?}"
    );
}

#[test]
fn a_worker_program_of_another_protocol_version_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    // A worker of the first protocol, which predates versions: its ready
    // frame (length 1, tag 11) has no body.
    let program = scratch.file("old-worker", "#!/bin/sh\nprintf '\\001\\000\\000\\000\\013'\nexec cat >/dev/null\n");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let started = Instant::now();
    let err = pool(guests::SQUARE).worker_program(&program).workers(1).build().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30), "refused, not hung");
    let message = err.to_string();
    assert!(matches!(err, rpool_wasm::BuildError::ProtocolMismatch { theirs: 1, ours: 3, .. }), "{err:?}");
    assert!(message.contains(&format!("the worker program {}", program.display())), "{message}");
    assert!(message.contains("protocol version 1") && message.contains("version 3"), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
}

#[test]
fn a_worker_refuses_a_parent_of_another_protocol_version() {
    use std::io::Write;
    let body = br#"{"protocol":1}"#;
    let mut frame = ((body.len() + 1) as u32).to_le_bytes().to_vec();
    frame.push(1); // the start frame's tag
    frame.extend_from_slice(body);
    let mut child = std::process::Command::new(BIN)
        .arg("__rpool-worker")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&frame).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "the worker exits with a failure");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("protocol version mismatch: the pool speaks version 1, but the worker program")
            && said.contains("speaks version 3"),
        "its fatal frame names both versions: {said:?}"
    );
}

/// The binary is linked without `-pie` on GNU/Linux (host/build.rs): each of
/// a run's processes then starts without ~53,000 relocations and the page
/// faults they cost. `RPOOL_WASM_PIE=1` at build time keeps a PIE.
#[test]
#[cfg(all(target_os = "linux", target_env = "gnu", not(target_feature = "crt-static")))]
fn the_binary_is_a_position_dependent_executable_unless_asked_otherwise() {
    use std::io::Read;
    let mut header = [0; 18];
    std::fs::File::open(BIN).unwrap().read_exact(&mut header).unwrap();
    // ELF e_type, at byte 16 (little-endian): 2 = ET_EXEC, 3 = ET_DYN (PIE).
    let e_type = u16::from_le_bytes([header[16], header[17]]);
    let expected = if option_env!("RPOOL_WASM_PIE") == Some("1") { 3 } else { 2 };
    assert_eq!(e_type, expected, "{BIN}: ELF type {e_type}");
}

/// The processes whose parent is `pid`, from `/proc/*/stat`.
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            // The fourth field, after the parenthesised name (which may hold spaces).
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse::<u32>().ok())
                == Some(pid)
        })
        .collect()
}

/// `/proc/PID/fd`: each open descriptor and what it refers to.
fn open_files(pid: u32) -> Vec<(u32, String)> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            Some((fd, std::fs::read_link(entry.path()).ok()?.display().to_string()))
        })
        .collect()
}

/// `rpool-wasm run` of `mark_then_sleep` with 2 workers over JSON Lines on a
/// standard input kept open, the scratch directory granted as `/sign`, the
/// compiled modules in `cache`; its first item `line` sent.
fn marking_command(
    cache: &std::path::Path,
    scratch: &Scratch,
    line: &str,
) -> (std::process::Child, std::process::ChildStdin) {
    let mut cli = std::process::Command::new(BIN)
        .env("RPOOL_WASM_CACHE_DIR", cache)
        .args(["run", guests::PROBE, "--func", "mark_then_sleep", "--starmap", "-", "--chunksize", "1"])
        .args(["--input-format", "jsonl", "-w", "2", "--dir", &format!("{}::/sign", scratch.path().display())])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = cli.stdin.take().unwrap();
    writeln!(stdin, "{line}").unwrap();
    stdin.flush().unwrap();
    (cli, stdin)
}

#[test]
fn the_command_forks_its_workers_which_hold_only_their_own_pipes_and_are_replaced_when_killed() {
    let scratch = Scratch::new();
    // The input stays open until the end: a pool whose input has ended lets
    // its idle worker go at once.
    let (cli, stdin) = marking_command(&rpool_wasm_tests::shared_cache_dir(), &scratch, "[\"/sign/first\", 1500, 2]");
    wait_for_mark(&scratch, "first");
    let ours = std::fs::read(format!("/proc/{}/cmdline", cli.id())).unwrap();
    let workers = children_of(cli.id());
    assert_eq!(workers.len(), 2, "two workers: {workers:?}");
    for &worker in &workers {
        let cmdline = std::fs::read(format!("/proc/{worker}/cmdline")).unwrap();
        assert_eq!(cmdline, ours, "worker {worker} is a fork of the command, not a program spawned anew");
        let files = open_files(worker);
        let pipes: Vec<_> = files.iter().filter(|(_, target)| target.starts_with("pipe:")).collect();
        assert_eq!(
            pipes.iter().map(|(fd, _)| *fd).collect::<Vec<_>>(),
            [0, 1, 2],
            "worker {worker} holds its own three pipes and no other (another worker's stdin would never end): {files:?}"
        );
    }
    // Both: the one running the item, and the idle one.
    for worker in &workers {
        let status = std::process::Command::new("kill").args(["-9", &worker.to_string()]).status().unwrap();
        assert!(status.success());
    }
    drop(stdin);
    let out = cli.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[4]\n", "{stderr}");
    assert!(stderr.contains("1 retried"), "the killed worker's item ran again on a spawned replacement: {stderr}");
}

/// The lines of `/proc/PID/maps` that map a compiled module from the cache.
fn artifact_maps(pid: u32) -> Vec<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    maps.lines().filter(|line| line.ends_with(".cwasm")).map(str::to_string).collect()
}

#[test]
fn forked_workers_inherit_the_module_the_command_loaded_from_the_cache_and_still_trap_cleanly() {
    let scratch = Scratch::new();
    let cache = scratch.path().join("cache");
    let cli = |args: &[&str]| Cli::new(BIN).env("RPOOL_WASM_CACHE_DIR", &cache).args(args);
    // The first run compiles the module into the (empty) cache: nothing to
    // load before its fork. Its trap is a trap all the same.
    let traps = ["run", guests::PROBE, "--func", "parse_and_square", "--map", "-", "-w", "2", "--keep-going"];
    let first = cli(&traps).stdin(r#"["x", "3"]"#).run();
    assert!(first.failure(1).contains("wasm `unreachable` instruction executed"), "{first:?}");
    // Later runs load it before they fork: the workers' trap handlers are
    // the ones the parent's engine installed, and a trap (a SIGILL here) is
    // still the item's error, not the worker's death.
    for _ in 0..2 {
        let out = cli(&traps).stdin(r#"["x", "3"]"#).run();
        let stderr = out.failure(1);
        assert_eq!(stderr.matches("wasm `unreachable` instruction executed").count(), 1, "{stderr}");
        assert!(stderr.contains("1 failed, 0 retried") && !stderr.contains("died"), "no worker died: {stderr}");
        assert_eq!(out.stdout, "[null,9]\n", "{stderr}");
    }
    let (running, stdin) = marking_command(&cache, &scratch, "[\"/sign/warm\", 100, 3]");
    wait_for_mark(&scratch, "warm");
    let parent = artifact_maps(running.id());
    assert!(!parent.is_empty(), "the command maps the compiled module");
    let code = |maps: &[String]| maps.iter().filter(|line| line.contains(" r-xp ")).cloned().collect::<Vec<_>>();
    assert_eq!(code(&parent).len(), 1, "the module's code is mapped once: {parent:#?}");
    for worker in children_of(running.id()) {
        // Its code mapped before the fork, at the parent's address, and
        // never again (an instance adds its memory's image, mapped from the
        // same file).
        let maps = artifact_maps(worker);
        assert_eq!(code(&maps), code(&parent), "worker {worker} inherited the command's mapping of the module");
        assert!(parent.iter().all(|line| maps.contains(line)), "{maps:#?} holds all of {parent:#?}");
    }
    drop(stdin);
    let out = running.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[9]\n");
}

#[test]
fn a_builder_in_a_process_with_threads_spawns_its_workers_instead_of_forking() {
    // The test harness runs tests on threads of its own: forking here could
    // copy a lock another thread holds, so the builder does not.
    let pool = pool(guests::SQUARE).workers(2).fork_workers().build().unwrap();
    let squares: Vec<i64> = pool.func("square").map([1, 2, 3]).unwrap();
    assert_eq!(squares, [1, 4, 9]);
    for pid in pool.worker_pids() {
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
        assert!(cmdline.contains("__rpool-worker"), "{pid} was spawned: {cmdline:?}");
    }
}

#[test]
fn the_pool_is_ready_with_its_first_worker_and_one_failing_to_start_later_stops_it() {
    // Worker 1's initializer fails, but only after worker 0 is ready: the
    // build returns with worker 0, and worker 1's failure stops the pool.
    let pool = pool(guests::PROBE).workers(2).initializer("fails_on_worker", &(1, 500)).build().unwrap();
    let started = Instant::now();
    let err = pool.func("sleep_ms").chunksize(1).map_async::<_, u64>([5000, 5000, 5000]).unwrap().get().unwrap_err();
    let TaskError::NotRun { reason, .. } = &err else { panic!("unexpected {err:?}") };
    assert!(reason.contains("worker 1 refuses to start"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(4), "the stop ended the running items too: {err}");
}
