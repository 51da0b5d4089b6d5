//! Every mode and option of `rpool-wasm run`.

use rpool_wasm_tests::{Scratch, guests};
use serde_json::json;

use crate::rpool;

#[test]
fn map_prints_results_in_input_order() {
    let s = Scratch::new();
    let inputs = s.file("inputs.json", "[1, 2, 3, 4, 5]");
    let out = rpool(&["run", guests::SQUARE, "--map", inputs.to_str().unwrap()]).run();
    assert_eq!(out.success(), "[1,4,9,16,25]\n");
}

#[test]
fn starmap_passes_each_item_as_the_argument_array() {
    let s = Scratch::new();
    let args = s.file("args.json", "[[2,3],[3,4],[4,5],[5,6]]");
    let out = rpool(&["run", guests::TUTORIAL, "--func", "power", "--starmap", args.to_str().unwrap()]).run();
    assert_eq!(out.json(), json!([8, 81, 1024, 15625]));
}

#[test]
fn imap_prints_one_line_per_result_in_order() {
    let s = Scratch::new();
    let inputs = s.file("inputs.json", "[5, 4, 3, 2, 1]");
    let out = rpool(&["run", guests::SQUARE, "--imap", inputs.to_str().unwrap(), "-w", "3", "--chunksize", "1"]).run();
    assert_eq!(out.success(), "25\n16\n9\n4\n1\n");
}

#[test]
fn imap_unordered_prints_index_and_result_objects() {
    let s = Scratch::new();
    let inputs = s.file("inputs.json", &serde_json::to_string(&(0..20).collect::<Vec<i64>>()).unwrap());
    let out =
        rpool(&["run", guests::SQUARE, "--imap-unordered", inputs.to_str().unwrap(), "-w", "2", "--chunksize", "1"])
            .run();
    let mut lines = out.json_lines();
    assert_eq!(lines.len(), 20);
    lines.sort_by_key(|l| l["index"].as_u64().unwrap());
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line, &json!({"index": i, "result": i * i}));
    }
}

#[test]
fn imap_prints_each_result_as_soon_as_it_is_ready() {
    // One worker, four items of 200 ms each: the first line must come out
    // while the other items are still running, not when the run ends —
    // whether each item is a chunk of its own or all four are one chunk
    // (the worker writes a slow item's result out before the next item).
    use std::io::BufRead;
    for chunksize in ["1", "4"] {
        let mut child = std::process::Command::new(crate::BIN)
            .args(["run", guests::TUTORIAL, "--func", "slow_square", "--imap", "-", "-w", "1"])
            .args(["--chunksize", chunksize])
            .env("RPOOL_WASM_CACHE_DIR", rpool_wasm_tests::shared_cache_dir())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"[1, 2, 3, 4]").unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "1");
        let first_line = std::time::Instant::now();
        let rest: Vec<String> = lines.map(Result::unwrap).collect();
        let ended = std::time::Instant::now();
        assert!(child.wait().unwrap().success());
        assert_eq!(rest, ["4", "9", "16"]);
        assert!(
            ended - first_line >= std::time::Duration::from_millis(300),
            "chunksize {chunksize}: the first result came only {:?} before the end: it was held back",
            ended - first_line
        );
    }
}

#[test]
fn stdin_is_read_with_a_dash() {
    let out = rpool(&["run", guests::SQUARE, "--map", "-"]).stdin("[7, 8]").run();
    assert_eq!(out.json(), json!([49, 64]));
}

#[test]
fn the_only_task_export_is_the_default_func() {
    let out = rpool(&["run", guests::SQUARE, "--map", "-"]).stdin("[3]").run();
    assert_eq!(out.json(), json!([9]));
}

#[test]
fn several_task_exports_need_func_and_the_error_lists_them() {
    let out = rpool(&["run", guests::TUTORIAL, "--map", "-"]).stdin("[3]").run();
    out.failure(2);
    out.one_line_error("name one (--func NAME)");
    assert!(out.stderr.contains("square") && out.stderr.contains("check_prime"), "{}", out.stderr);
}

#[test]
fn an_unknown_func_is_an_error_listing_the_task_exports() {
    let out = rpool(&["run", guests::SQUARE, "--func", "cube", "--map", "-"]).stdin("[3]").run();
    out.failure(2);
    out.one_line_error("no export `cube`; its task exports are: square");
}

#[test]
fn chunksize_one_and_larger_than_the_input_give_the_same_results() {
    let s = Scratch::new();
    let numbers: Vec<i64> = (0..100).collect();
    let inputs = s.file("inputs.json", &serde_json::to_string(&numbers).unwrap());
    let expected = json!(numbers.iter().map(|x| x * x).collect::<Vec<_>>());
    for chunksize in ["1", "7", "1000"] {
        let out =
            rpool(&["run", guests::SQUARE, "--map", inputs.to_str().unwrap(), "--chunksize", chunksize, "-w", "2"])
                .run();
        assert_eq!(out.json(), expected, "chunksize {chunksize}");
    }
}

#[test]
fn more_workers_than_items() {
    let out = rpool(&["run", guests::SQUARE, "--map", "-", "--workers", "6"]).stdin("[1, 2]").run();
    assert_eq!(out.json(), json!([1, 4]));
}

#[test]
fn empty_input_gives_empty_output_in_every_mode() {
    assert_eq!(rpool(&["run", guests::SQUARE, "--map", "-"]).stdin("[]").run().success(), "[]\n");
    assert_eq!(
        rpool(&["run", guests::TUTORIAL, "--func", "power", "--starmap", "-"]).stdin("[]").run().success(),
        "[]\n"
    );
    assert_eq!(rpool(&["run", guests::SQUARE, "--imap", "-"]).stdin(" [ ] ").run().success(), "");
    assert_eq!(rpool(&["run", guests::SQUARE, "--imap-unordered", "-"]).stdin("[]").run().success(), "");
}

#[test]
fn output_file_is_written_on_success() {
    let s = Scratch::new();
    let target = s.path().join("out.json");
    let out = rpool(&["run", guests::SQUARE, "--map", "-", "--output", target.to_str().unwrap()]).stdin("[2, 3]").run();
    assert_eq!(out.success(), "");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "[4,9]\n");
}

#[test]
fn a_failed_run_leaves_no_partial_output_and_keeps_the_old_file() {
    let s = Scratch::new();
    let target = s.file("out.json", "old contents");
    let out = rpool(&["run", guests::TUTORIAL, "--func", "risky_task", "--imap", "-", "--chunksize", "1", "-o"])
        .args([target.to_str().unwrap()])
        .stdin("[1, 2, 3, 4, 5]")
        .run();
    out.failure(1);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "old contents");
    let leftovers: Vec<_> = std::fs::read_dir(s.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("out.json")], "no temporary file is left behind");
}

#[test]
fn initializer_and_its_arguments() {
    let out = rpool(&[
        "run",
        guests::TUTORIAL,
        "--func",
        "process_item",
        "--init",
        "init_worker",
        "--init-args",
        "[10]",
        "--map",
        "-",
    ])
    .stdin("[1, 2, 3, 4, 5]")
    .run();
    assert_eq!(out.json(), json!([10, 20, 30, 40, 50]));
}

#[test]
fn initializer_without_arguments_gets_an_empty_array() {
    let out = rpool(&["run", guests::TUTORIAL, "--func", "query", "--init", "init_db", "--map", "-", "-w", "1"])
        .stdin(r#"["SELECT * FROM users", "SELECT * FROM orders"]"#)
        .run();
    assert_eq!(
        out.json(),
        json!(["worker 0, connection 1: SELECT * FROM users", "worker 0, connection 1: SELECT * FROM orders"])
    );
}

#[test]
fn max_tasks_per_worker_replaces_workers_with_fresh_instances() {
    let items = "[1, 2, 3, 4, 5, 6]";
    let calls = |extra: &[&str]| -> Vec<u64> {
        let mut args = vec!["run", guests::TUTORIAL, "--func", "whoami", "--map", "-", "-w", "1", "--chunksize", "1"];
        args.extend_from_slice(extra);
        let out = rpool(&args).stdin(items).run().json();
        out.as_array().unwrap().iter().map(|r| r["calls"].as_u64().unwrap()).collect()
    };
    // One long-lived instance serves every item: its state persists.
    assert_eq!(calls(&[]), vec![1, 2, 3, 4, 5, 6]);
    // A worker is replaced after each task: every item sees a fresh instance.
    assert_eq!(calls(&["--max-tasks-per-worker", "1"]), vec![1, 1, 1, 1, 1, 1]);
    assert_eq!(calls(&["--max-tasks-per-worker", "2"]), vec![1, 2, 1, 2, 1, 2]);
}

#[test]
fn help_lists_every_mode_with_examples() {
    let out = rpool(&["run", "--help"]).run();
    let help = out.success();
    for flag in [
        "--map",
        "--starmap",
        "--imap",
        "--imap-unordered",
        "--func",
        "--workers",
        "--chunksize",
        "--init",
        "--init-args",
        "--max-tasks-per-worker",
        "--output",
        "Examples:",
        "Exit codes:",
    ] {
        assert!(help.contains(flag), "help lacks {flag}\n{help}");
    }
}

#[test]
fn version_names_the_program() {
    assert!(rpool(&["--version"]).run().success().starts_with("rpool-wasm "));
}
