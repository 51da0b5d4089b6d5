//! The command line on big jobs: JSON Lines in and out, streamed in bounded
//! memory, `| head`, progress on a terminal, `--keep-going`, resumable runs
//! with `--journal`, the summary, completions and the version.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rpool_wasm_tests::{Scratch, guests, shared_cache_dir};
use serde_json::json;

use crate::{BIN, rpool};

fn run_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("RPOOL_WASM_CACHE_DIR", shared_cache_dir());
    cmd
}

#[test]
fn json_lines_in_by_extension_and_by_flag() {
    let s = Scratch::new();
    let items = s.file("items.jsonl", "1\n2\n\n3\n");
    let out = rpool(&["run", guests::SQUARE, "--imap", items.to_str().unwrap()]).run();
    assert_eq!(out.success(), "1\n4\n9\n");
    let out = rpool(&["run", guests::SQUARE, "--map", "-", "--input-format", "jsonl"]).stdin("4\n5\n").run();
    assert_eq!(out.json(), json!([16, 25]));
    let out = rpool(&["run", guests::TUTORIAL, "--func", "power", "--starmap", "-", "--input-format", "jsonl"])
        .stdin("[2, 3]\n[3, 2]\n")
        .run();
    assert_eq!(out.json(), json!([8, 9]));
}

#[test]
fn a_malformed_line_names_its_line() {
    let out = rpool(&["run", guests::SQUARE, "--imap", "-", "--input-format", "jsonl"]).stdin("1\n2\n{oops\n").run();
    out.failure(2);
    assert!(out.stderr.contains("-: invalid JSON at line 3 column 2"), "{}", out.stderr);
}

#[test]
fn a_closed_stdout_ends_the_run_quietly_and_the_workers_with_it() {
    let mut child =
        run_cmd(&["run", guests::TUTORIAL, "--func", "slow_square", "--imap", "-", "-w", "2", "--chunksize", "1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    let items: Vec<u32> = (0..200).collect();
    child.stdin.take().unwrap().write_all(serde_json::to_string(&items).unwrap().as_bytes()).unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "0");
    assert_eq!(lines.next().unwrap().unwrap(), "1");
    drop(lines); // what `| head -2` does
    let closed = Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a reader that stops reading is not an error");
    assert!(
        closed.elapsed() < Duration::from_secs(5),
        "the run stopped {:?} after its stdout closed",
        closed.elapsed()
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn keep_going_runs_every_item_and_reports_the_failures() {
    let out = rpool(&["run", guests::TUTORIAL, "--func", "risky_task", "--map", "-", "--keep-going"])
        .stdin("[1, 2, 3, 4, 3]")
        .run();
    out.failure(1);
    assert_eq!(out.stdout, "[1,4,null,16,null]\n");
    assert!(out.stderr.contains("rpool-wasm: failed: item 2: risky_task failed: Cannot process 3"), "{}", out.stderr);
    assert!(out.stderr.contains("rpool-wasm: failed: item 4: risky_task failed: Cannot process 3"), "{}", out.stderr);
    assert!(out.stderr.contains("rpool-wasm: error: 2 items failed"), "{}", out.stderr);

    let out = rpool(&["run", guests::TUTORIAL, "--func", "risky_task", "--imap", "-", "--keep-going"])
        .stdin("[2, 3, 4]")
        .run();
    out.failure(1);
    let lines: Vec<serde_json::Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        lines,
        [json!(4), json!({"index": 1, "error": "item 1: risky_task failed: Cannot process 3"}), json!(16)]
    );
}

#[test]
fn tiny_one_item_chunks_travel_together_yet_each_item_runs_once_in_a_call_of_its_own() {
    // At chunksize 1, once the items are seen to be tiny, many go to a
    // worker in one frame; each still runs alone, as a chunk of its own
    // would: a trap fails only its item and runs no other item again (a
    // group of items in one chunk call would be run again one by one).
    let mut items: Vec<i64> = (0..5000).collect();
    items[3000] = -1;
    let input = serde_json::to_string(&items).unwrap();
    let out = rpool(&["run", guests::PROBE, "--func", "say_or_trap", "--map", "-", "--chunksize", "1", "-w", "2"])
        .args(["--keep-going"])
        .stdin(&input)
        .run();
    out.failure(1);
    let results: Vec<Option<i64>> = serde_json::from_str(&out.stdout).unwrap();
    let expected: Vec<Option<i64>> = items.iter().map(|&x| (x >= 0).then_some(x * x)).collect();
    assert_eq!(results, expected);
    assert!(out.stderr.contains("item 3000: say_or_trap trapped"), "{}", out.stderr);
    let mut said = std::collections::HashMap::<&str, usize>::new();
    for line in out.stderr.lines() {
        if let Some((_, x)) = line.split_once("] said ") {
            *said.entry(x).or_default() += 1;
        }
    }
    assert_eq!(said.len(), items.len(), "every item ran: {}", out.stderr.len());
    assert!(
        said.values().all(|&n| n == 1),
        "an item ran twice: {:?}",
        said.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
}

#[test]
fn without_keep_going_the_first_failure_stops_the_run() {
    let out = rpool(&["run", guests::TUTORIAL, "--func", "risky_task", "--imap", "-", "-w", "1", "--chunksize", "1"])
        .stdin("[2, 3, 4]")
        .run();
    out.failure(1);
    assert_eq!(out.stdout, "4\n");
    out.one_line_error("item 1: risky_task failed: Cannot process 3");
}

#[test]
fn a_summary_ends_a_run_unless_quiet() {
    let out = rpool(&["run", guests::SQUARE, "--map", "-"]).stdin("[1, 2, 3]").run();
    out.success();
    assert!(out.stderr.starts_with("rpool-wasm: 3 items, 0 failed, 0 retried, in "), "{}", out.stderr);
    assert!(out.stderr.trim_end().ends_with("items/s)"), "{}", out.stderr);
    let out = rpool(&["run", guests::SQUARE, "--map", "-", "--quiet"]).stdin("[1, 2, 3]").run();
    out.success();
    assert_eq!(out.stderr, "");
}

/// Runs `command` under a pseudo-terminal (`script`) and returns what the terminal showed.
fn on_a_terminal(command: &str) -> String {
    let out = Command::new("script")
        .args(["-qfec", command, "/dev/null"])
        .env("RPOOL_WASM_CACHE_DIR", shared_cache_dir())
        .output()
        .expect("`script` (util-linux) runs");
    assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_progress_bar_on_a_terminal_and_none_when_quiet() {
    let s = Scratch::new();
    let items = s.file("items.json", "[1, 2, 3, 4, 5, 6]");
    let base = format!(
        "{BIN} run {} --func slow_square --imap {} -w 1 --chunksize 1 -o {}",
        guests::TUTORIAL,
        items.display(),
        s.path().join("out").display()
    );
    let shown = on_a_terminal(&base);
    assert!(shown.contains("/6 items"), "no progress bar on the terminal: {shown:?}");
    assert!(shown.contains("rpool-wasm: 6 items, 0 failed"), "{shown:?}");
    let quiet = on_a_terminal(&format!("{base} --quiet"));
    assert!(!quiet.contains("items"), "--quiet shows nothing: {quiet:?}");
    // Not a terminal: no bar unless forced.
    let piped = rpool(&["run", guests::TUTORIAL, "--func", "slow_square", "--map", "-", "-w", "1", "--chunksize", "1"])
        .stdin("[1, 2, 3]")
        .run();
    assert!(!piped.stderr.contains("/3 items"), "{}", piped.stderr);
    let forced = rpool(&[
        "run",
        guests::TUTORIAL,
        "--func",
        "slow_square",
        "--map",
        "-",
        "-w",
        "1",
        "--chunksize",
        "1",
        "--progress",
    ])
    .stdin("[1, 2, 3]")
    .run();
    assert!(forced.stderr.contains("/3 items"), "{}", forced.stderr);
}

#[test]
fn a_journal_resumes_a_killed_run_and_computes_only_what_is_missing() {
    let s = Scratch::new();
    let journal = s.path().join("run.journal");
    let items: Vec<u64> = (0..12).map(|i| 100 + i).collect();
    let inputs = s.file("items.json", &serde_json::to_string(&items).unwrap());
    let args = |journal: &std::path::Path| {
        vec![
            "run".to_string(),
            guests::PROBE.into(),
            "--func".into(),
            "sleep_ms".into(),
            "--imap".into(),
            inputs.display().to_string(),
            "-w".into(),
            "2".into(),
            "--chunksize".into(),
            "1".into(),
            "--journal".into(),
            journal.display().to_string(),
        ]
    };
    // Kill the host with SIGKILL once a few results are journaled.
    let mut child = run_cmd(&[]).args(args(&journal)).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&journal).map_or(0, |j| j.lines().count()) < 5 {
        assert!(Instant::now() < deadline, "no results were journaled");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let journaled = std::fs::read_to_string(&journal).unwrap().lines().count() - 1;
    assert!((4..12).contains(&journaled), "{journaled} results journaled before the kill");

    let resumed =
        Command::new(BIN).args(args(&journal)).env("RPOOL_WASM_CACHE_DIR", shared_cache_dir()).output().unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    let expected: String = items.iter().map(|i| format!("{i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&resumed.stdout), expected, "the same output as an uninterrupted run");
    assert!(stderr.contains(&format!("rpool-wasm: 12 items ({journaled} from the journal)")), "{stderr}");

    // A journal of another job is refused.
    let out = rpool(&["run", guests::SQUARE, "--map", "-", "--journal", journal.to_str().unwrap()]).stdin("[1]").run();
    out.failure(2);
    out.one_line_error("this journal belongs to another job");
}

#[test]
fn ten_million_lines_stream_through_in_flat_host_memory() {
    let s = Scratch::new();
    let path = s.path().join("items.jsonl");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..10_000_000u64 {
            writeln!(file, "{}", i % 1000).unwrap();
        }
    }
    let mut child = run_cmd(&[
        "run",
        guests::SQUARE,
        "--imap-unordered",
        path.to_str().unwrap(),
        "-w",
        "2",
        "--chunksize",
        "10000",
        "--quiet",
    ])
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let pid = child.id();
    let counter = std::thread::spawn({
        let stdout = child.stdout.take().unwrap();
        move || BufReader::new(stdout).lines().count()
    });
    let mut peak_kib = 0u64;
    while child.try_wait().unwrap().is_none() {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(|v| v.trim().trim_end_matches(" kB").parse::<u64>().unwrap());
            peak_kib = peak_kib.max(hwm.unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(counter.join().unwrap(), 10_000_000);
    assert!(
        peak_kib > 0 && peak_kib < 64 * 1024,
        "the host's peak RSS was {peak_kib} KiB for a 10-million-item stream"
    );
}

#[test]
fn completions_for_each_shell_and_the_version() {
    for shell in ["bash", "zsh", "fish"] {
        let out = rpool(&["completions", shell]).run();
        assert!(out.success().contains("rpool-wasm"), "{shell}");
        assert!(out.stdout.contains("imap-unordered"), "{shell} completes run's flags");
    }
    let version = rpool(&["--version"]).run();
    assert!(version.success().contains("(wasmtime 48."), "{}", version.stdout);
}

/// A producer that pauses: each result must come out while the producer
/// waits, before it writes the next item (as Python's imap yields each
/// result as its item comes), in each streaming mode and chunksize; also
/// after a burst that shows the items tiny (one-item chunks in hand then
/// travel together, and one must never wait for the next to arrive).
#[test]
fn a_live_input_gets_each_result_before_its_next_item() {
    let modes = [
        (&["--imap", "-"][..], 0),
        (&["--imap", "-", "--chunksize", "1"], 0),
        (&["--imap", "-", "--chunksize", "1"], 3000),
        (&["--imap-unordered", "-"], 0),
    ];
    for (extra, burst) in modes {
        let mut child = run_cmd(&["run", guests::SQUARE, "--input-format", "jsonl"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let _ = tx.send(line.unwrap());
            }
        });
        for x in 0..burst {
            writeln!(stdin, "{x}").unwrap();
        }
        stdin.flush().unwrap();
        for x in 0..burst {
            let line = lines.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("{extra:?}: burst"));
            assert_eq!(line, (x * x).to_string(), "{extra:?}");
        }
        for x in [3, 4, 5] {
            writeln!(stdin, "{x}").unwrap();
            stdin.flush().unwrap();
            // Generous for a loaded machine; a buffering run never answers.
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("{extra:?}: no result for {x} while the producer waits for it"));
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            let result = if extra[0] == "--imap-unordered" { value["result"].clone() } else { value };
            assert_eq!(result, json!(x * x), "{extra:?}: {line}");
        }
        drop(stdin);
        assert!(child.wait().unwrap().success(), "{extra:?}");
    }
}

/// `run --shard I/N` on four "machines", then `merge`: the same output as
/// one run, in each format; a missing part names the items it held.
#[test]
fn four_shards_merged_equal_one_run() {
    let scratch = Scratch::new();
    let inputs = scratch.file("inputs.json", &serde_json::to_string(&(0..50).collect::<Vec<i64>>()).unwrap());
    let inputs = inputs.to_str().unwrap();
    let parts: Vec<String> = (0..4)
        .map(|i| {
            let part = scratch.path().join(format!("part-{i}.jsonl")).display().to_string();
            let shard = format!("{i}/4");
            rpool(&["run", guests::SQUARE, "--map", inputs, "--shard", &shard, "-q", "-o", &part]).run().success();
            part
        })
        .collect();
    for (run_flag, merge_flag) in [("--map", "--map"), ("--imap", "--imap")] {
        let local = rpool(&["run", guests::SQUARE, run_flag, inputs, "-q"]).run();
        let mut merge = vec!["merge", merge_flag];
        merge.extend(parts.iter().map(String::as_str));
        let merged = rpool(&merge).run();
        assert_eq!(merged.success(), local.success(), "{run_flag}");
    }
    // Slurm's array environment picks the shard.
    let auto = scratch.path().join("auto.jsonl").display().to_string();
    rpool(&["run", guests::SQUARE, "--map", inputs, "--shard", "auto", "-q", "-o", &auto])
        .env("SLURM_ARRAY_TASK_ID", "3")
        .env("SLURM_ARRAY_TASK_COUNT", "4")
        .run()
        .success();
    // A part's lines come in completion order: compare them as sets.
    let lines = |path: &str| {
        let mut lines: Vec<String> = std::fs::read_to_string(path).unwrap().lines().map(String::from).collect();
        lines.sort();
        lines
    };
    assert_eq!(lines(&auto), lines(&parts[3]), "task 3 of 4 is shard 3");
    // A missing part: an error naming the items nobody has, and no output.
    let out_file = scratch.path().join("merged.json");
    let out = rpool(&["merge", &parts[0], &parts[1], &parts[3], "-o", out_file.to_str().unwrap()]).run();
    out.failure(2);
    out.one_line_error(
        "shard 2 of 4 is missing: items 2, 6, 10, 14, 18, 22, 26, 30, 34, 38 (and 2 more) are in no part",
    );
    assert!(!out_file.exists(), "no partial output");
    // A part whose run did not finish has no closing line.
    let cut = scratch.file("cut.jsonl", "{\"index\":2,\"result\":4}\n");
    let out = rpool(&["merge", &parts[0], &parts[1], cut.to_str().unwrap(), &parts[3]]).run();
    out.failure(2);
    out.one_line_error("cut.jsonl is not a whole part: it has no closing");
    // The same part twice.
    let out = rpool(&["merge", &parts[0], &parts[0]]).run();
    out.failure(2);
    out.one_line_error("is in both");
}
