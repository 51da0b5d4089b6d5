//! Tasks in Python and JavaScript, as WebAssembly components of the world
//! `rpool:task/task` (`wit/rpool.wit`), built from `guests/python/tasks.py`
//! and `guests/javascript/tasks.js` with the SDKs' build commands and run by
//! the real binary: the tutorial's tasks, their errors as each language
//! prints them, the initializer, the sandbox and the limits.

use rpool_wasm_tests::Scratch;
use serde_json::json;

use crate::languages::{self, JAVASCRIPT, Language, PYTHON};
use crate::rpool;

/// What an error looks like in each language: Python's last traceback
/// line, a JavaScript Error's `toString()`.
fn error_kind(lang: &Language) -> &'static str {
    if std::ptr::eq(lang, &PYTHON) { "ValueError" } else { "Error" }
}

fn tutorial(lang: &'static Language) {
    let Some(module) = languages::built(lang) else { return };
    let run = |args: &[&str], stdin: &str| rpool(&[&["run", module][..], args].concat()).stdin(stdin).run();
    // map, starmap, apply-like single calls.
    assert_eq!(run(&["--func", "square", "--map", "-"], "[1, 2, 3, 4, 5]").json(), json!([1, 4, 9, 16, 25]));
    assert_eq!(run(&["--func", "power", "--starmap", "-"], "[[2, 3], [3, 4]]").json(), json!([8, 81]));
    assert_eq!(run(&["--func", "compute", "--starmap", "-"], "[[1, 2, 3]]").json(), json!([6]));
    // The initializer with initargs sets a module global that later calls see.
    let out = run(
        &["--func", "process_item", "--init", "init_worker", "--init-args", "[10]", "--map", "-", "-w", "2"],
        "[1, 2, 3]",
    );
    assert_eq!(out.json(), json!([10, 20, 30]));
    assert!(out.stderr.contains("initialized with 10"), "print reaches the worker's stderr: {}", out.stderr);
    // An exception is that item's error, as the language prints it.
    let out = run(&["--func", "risky_task", "--map", "-"], "[1, 2, 3, 4, 5]");
    out.failure(1);
    out.one_line_error(&format!("item 2: risky_task failed: {}: Cannot process 3", error_kind(lang)));
    let out = run(&["--func", "risky_task", "--imap", "-", "--keep-going"], "[1, 2, 3, 4, 5]");
    out.failure(1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", out.stdout);
    assert_eq!(lines[3], "16", "the other items go on");
    // The tutorial's prime check over its five numbers, factorial, safe_divide.
    // (JavaScript's numbers are doubles: integers past 2^53 lose digits
    // before the task sees them, so its check runs over primes below that.)
    let (primes, expected) = match std::ptr::eq(lang, &PYTHON) {
        true => (
            "[112272535095295, 100109100129100369, 100109100129101027, 100109100129100151, 100109100129162907]",
            json!([false, false, false, true, true]),
        ),
        false => ("[112272535095295, 15, 9, 9007199254740881, 1000003]", json!([false, false, false, true, true])),
    };
    assert_eq!(run(&["--func", "check_prime", "--map", "-"], primes).json(), expected);
    assert_eq!(run(&["--func", "factorial", "--map", "-"], "[5, 10]").json(), json!([120, 3628800]));
    let out = run(&["--func", "safe_divide", "--starmap", "-"], "[[10, 2], [1, 0]]").json();
    assert_eq!(out[0][0].as_f64(), Some(5.0), "{out}");
    assert!(out[1][0].is_null() && out[1][1].is_string(), "{out}");
}

fn sandbox_and_limits(lang: &'static Language) {
    let Some(module) = languages::built(lang) else { return };
    // Files only where granted.
    let scratch = Scratch::new();
    scratch.file("a.txt", "one two three");
    let grant = format!("{}::/data", scratch.path().display());
    let out = rpool(&["run", module, "--func", "process_file", "--map", "-", "--ro-dir", &grant])
        .stdin(r#"["/data/a.txt"]"#)
        .run();
    assert_eq!(out.json(), json!([["/data/a.txt", 3]]));
    let out = rpool(&["run", module, "--func", "process_file", "--map", "-"]).stdin(r#"["/data/a.txt"]"#).run();
    out.failure(1);
    // A timeout interrupts a busy call and fails its item; the pool goes on.
    // (A call asleep in the host, `time.sleep`, is not interrupted: the
    // worker's backstop catches it, as for any worker stuck outside wasm.)
    let out =
        rpool(&["run", module, "--func", "check_prime", "--map", "-", "--timeout", "300ms", "--keep-going", "-w", "1"])
            .stdin("[9007199254740881, 9]")
            .run();
    out.failure(1);
    assert!(out.stderr.contains("item 0: check_prime trapped: timed out after 300ms"), "{}", out.stderr);
    assert_eq!(stdout_json(&out.stdout), json!([null, false]));
    // A trap (an abort no exception handler catches) fails its item; the
    // worker rebuilds its instance and the next item runs on a fresh one.
    let out =
        rpool(&["run", module, "--func", "abort_on", "--map", "-", "--keep-going", "-w", "1", "--chunksize", "3"])
            .stdin("[1, 2, 3]")
            .run();
    out.failure(1);
    assert_eq!(stdout_json(&out.stdout), json!([1, null, 3]), "{}", out.stderr);
    // Tasks see no host environment, only the worker's variables.
    let out = rpool(&["run", module, "--func", "whoami", "--map", "-", "-w", "1"]).stdin("[7]").run();
    assert_eq!(out.json()[0]["worker"], json!(0));
    // inspect names the world and the tasks.
    let out = rpool(&["inspect", module, "--json"]).run();
    let info = out.json();
    assert_eq!(info["mode"], json!("WebAssembly component"));
    assert_eq!(info["world"], json!("rpool:task/task@1.0.0"));
    let tasks: Vec<&str> = info["tasks"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(tasks[..5], ["square", "slow_square", "slow_task", "compute", "power"]);
    assert!(info["imports"].as_array().unwrap().iter().all(|i| i["provided"] == json!(true)), "{info}");
    // An unknown task names the ones there are.
    let out = rpool(&["run", module, "--func", "nope", "--map", "-"]).stdin("[1]").run();
    out.failure(2);
    out.one_line_error("the module has no export `nope`; its task exports are: square, slow_square");
}

/// Tiny items go through `call-chunk` in groups (`worker/pace.rs`): each
/// item still gets its own outcome — errors, the output limit, a trap in the
/// middle of a group (the instance rebuilt, the initializer run again) —
/// exactly as one call per item would give.
fn groups(lang: &'static Language) {
    let Some(module) = languages::built(lang) else { return };
    let n = 3000_i64;
    let run = |args: &[&str], items: &[i64]| {
        let stdin = serde_json::to_string(items).unwrap();
        rpool(&[&["run", module, "-w", "1", "--chunksize", "3000", "--keep-going"][..], args].concat())
            .stdin(&stdin)
            .run()
    };
    // Every 97th item fails; the others are squared.
    let items: Vec<i64> = (0..n).map(|i| if i % 97 == 50 { -i } else { i }).collect();
    let out = run(&["--func", "task", "--map", "-"], &items);
    out.failure(1);
    let expected: Vec<serde_json::Value> =
        items.iter().map(|&x| if x < 0 { json!(null) } else { json!(x * x) }).collect();
    assert_eq!(stdout_json(&out.stdout), json!(expected), "{}", out.stderr);
    let kind = error_kind(lang);
    assert!(out.stderr.contains(&format!("item 2960: task failed: {kind}: Negative!")), "{}", out.stderr);
    // The output limit is per item: 4-digit squares are over 3 bytes.
    let items: Vec<i64> = (0..n).collect();
    let out = run(&["--func", "square", "--map", "-", "--max-output", "3"], &items);
    out.failure(1);
    let expected: Vec<serde_json::Value> =
        items.iter().map(|&x| if x * x > 999 { json!(null) } else { json!(x * x) }).collect();
    assert_eq!(stdout_json(&out.stdout), json!(expected), "{}", out.stderr);
    assert!(
        out.stderr.contains("item 32: square returned invalid JSON: the result is 4 bytes, more than the limit"),
        "{}",
        out.stderr
    );
    // A trap deep in a chunk of tiny items fails that item alone.
    let mut items = vec![1_i64; n as usize];
    items[2000] = 2;
    let out = run(&["--func", "abort_on", "--map", "-"], &items);
    out.failure(1);
    let expected: Vec<serde_json::Value> = items.iter().map(|&x| if x == 2 { json!(null) } else { json!(x) }).collect();
    assert_eq!(stdout_json(&out.stdout), json!(expected), "{}", out.stderr);
    assert!(out.stderr.contains("item 2000: abort_on trapped"), "{}", out.stderr);
    // The initializer's state is seen by every group.
    let items: Vec<i64> = (0..n).collect();
    let out =
        rpool(&["run", module, "-w", "1", "--func", "process_item", "--init", "init_worker", "--init-args", "[3]"])
            .args(["--map", "-", "--chunksize", "3000"])
            .stdin(&serde_json::to_string(&items).unwrap())
            .run();
    let expected: Vec<i64> = items.iter().map(|x| x * 3).collect();
    assert_eq!(out.json(), json!(expected));
}

/// The JSON a failed run (with `--keep-going`) printed.
fn stdout_json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn python_runs_the_tutorial() {
    tutorial(&PYTHON);
}

#[test]
fn python_sandbox_and_limits() {
    sandbox_and_limits(&PYTHON);
}

#[test]
fn javascript_runs_the_tutorial() {
    tutorial(&JAVASCRIPT);
}

#[test]
fn javascript_sandbox_and_limits() {
    sandbox_and_limits(&JAVASCRIPT);
}

#[test]
fn python_groups_of_tiny_items() {
    groups(&PYTHON);
}

#[test]
fn javascript_groups_of_tiny_items() {
    groups(&JAVASCRIPT);
}
