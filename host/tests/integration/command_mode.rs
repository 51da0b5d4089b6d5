//! Command mode: a WASI command (`guests/command`, a plain `fn main` with no
//! SDK) runs a fresh instance per item, reads the item's JSON on stdin and
//! prints its result on stdout; a non-zero exit or a trap fails the item with
//! the tail of its stderr. Real programs take their command line too:
//! `argv[0]` and the arguments after `--`, with `{}` for the item.

use rpool_wasm::{ModuleMode, TaskError};
use rpool_wasm_tests::{Scratch, guests};
use serde_json::json;

use crate::languages::{self, GOFMT};
use crate::{pool, rpool};

#[test]
fn map_feeds_each_item_itself_on_stdin() {
    // Not `[x]`: the item itself, so that an array item arrives as that array.
    let out = rpool(&["run", guests::COMMAND, "--map", "-"]).stdin("[1, 2, -3, [2, 10]]").run();
    assert_eq!(out.json(), json!([1, 4, 9, 1024]));
}

#[test]
fn starmap_feeds_the_argument_array() {
    let out = rpool(&["run", guests::COMMAND, "--starmap", "-"]).stdin("[[2, 3], [3, 4]]").run();
    assert_eq!(out.json(), json!([8, 81]));
}

#[test]
fn imap_streams_results_in_order() {
    let out = rpool(&["run", guests::COMMAND, "--imap", "-", "-w", "2"]).stdin("[5, 6, 7]").run();
    assert_eq!(out.json_lines(), [json!(25), json!(36), json!(49)]);
}

#[test]
fn the_func_is_start_and_nothing_else() {
    let out = rpool(&["run", guests::COMMAND, "--func", "_start", "--map", "-"]).stdin("[4]").run();
    assert_eq!(out.json(), json!([16]));
    // `__main_void` is exported too (Rust's `_start` calls it) but is no task.
    let out = rpool(&["run", guests::COMMAND, "--func", "__main_void", "--map", "-"]).stdin("[4]").run();
    out.failure(2);
    out.one_line_error("has no export `__main_void`; its task exports are: _start");
}

#[test]
fn a_non_zero_exit_fails_the_item_with_its_stderr() {
    let out = rpool(&["run", guests::COMMAND, "--map", "-"]).stdin(r#"[1, "a", 3]"#).run();
    out.failure(1);
    out.one_line_error(r#"item 1: _start failed: exited with code 1: expected a number or [base, exp], got "a""#);
}

#[test]
fn a_trap_fails_the_item_with_the_trap_and_stderr() {
    let out = rpool(&["run", guests::COMMAND, "--map", "-"]).stdin(r#"[{"panic": "boom"}]"#).run();
    out.failure(1);
    out.one_line_error("item 0: _start trapped: wasm trap: wasm `unreachable` instruction executed; stderr: ");
    assert!(out.stderr.contains("panicked at") && out.stderr.contains("| boom"), "{}", out.stderr);
}

#[test]
fn only_the_tail_of_a_long_stderr_is_kept() {
    let out = rpool(&["run", guests::COMMAND, "--map", "-"]).stdin(r#"[{"stderr": 100000}]"#).run();
    out.failure(1);
    out.one_line_error("exited with code 1: …");
    let message = out.stderr.split_once(": …").expect("a cut message").1.trim_end();
    assert!(message.ends_with(" the end"), "{message}");
    assert!(message.len() < 1024, "{} bytes kept", message.len());
}

#[test]
fn exit_zero_through_proc_exit_is_success() {
    let out = rpool(&["run", guests::COMMAND, "--map", "-"]).stdin(r#"[{"exit": 0}]"#).run();
    assert_eq!(out.json(), json!([{ "exited": 0 }]));
    let out = rpool(&["run", guests::COMMAND, "--map", "-"]).stdin(r#"[{"exit": 7}]"#).run();
    out.failure(1);
    out.one_line_error("item 0: _start failed: exited with code 7");
}

#[test]
fn every_item_gets_a_fresh_instance() {
    // One worker, one chunk: an instance reused across items would count up.
    let items = json!(vec![json!({ "calls": 0 }); 6]).to_string();
    let out = rpool(&["run", guests::COMMAND, "-w", "1", "--chunksize", "6", "--map", "-"]).stdin(&items).run();
    assert_eq!(out.json(), json!([1, 1, 1, 1, 1, 1]));
}

#[test]
fn the_sandbox_and_limits_apply() {
    let out = rpool(&["run", guests::COMMAND, "-w", "1", "--env", "GREETING=hi", "--map", "-"])
        .stdin(r#"[{"env": "RPOOL_WORKER_INDEX"}, {"env": "GREETING"}, {"env": "HOME"}]"#)
        .run();
    assert_eq!(out.json(), json!(["0", "hi", null]));
    let out = rpool(&["run", guests::COMMAND, "--timeout", "200ms", "--map", "-"]).stdin(r#"[{"spin": 1}]"#).run();
    out.failure(1);
    out.one_line_error("item 0: _start trapped: timed out after 200ms");
    let out = rpool(&["run", guests::COMMAND, "--max-memory", "1MiB", "--map", "-"]).stdin("[2]").run();
    out.failure(1);
    out.one_line_error("memory limit of 1 MiB exceeded");
}

#[test]
fn stdout_must_be_json_unless_raw_output() {
    let input = r#"[{"echo": "hello \"world\"\n"}]"#;
    let out = rpool(&["run", guests::COMMAND, "--map", "-"]).stdin(input).run();
    out.failure(1);
    out.one_line_error("item 0: _start returned invalid JSON: stdout must be one JSON value");
    let out = rpool(&["run", guests::COMMAND, "--raw-output", "--map", "-"]).stdin(input).run();
    assert_eq!(out.json(), json!(["hello \"world\""]));
    // Nothing printed is null, as a task that writes no output.
    let out = rpool(&["run", guests::COMMAND, "--map", "-"]).stdin(r#"[{"echo": ""}]"#).run();
    assert_eq!(out.json(), json!([null]));
}

#[test]
fn output_over_the_limit_fails_the_item() {
    let item = json!([{ "echo": "x".repeat(2000) }]).to_string();
    let out = rpool(&["run", guests::COMMAND, "--raw-output", "--max-output", "1KiB", "--map", "-"]).stdin(&item).run();
    out.failure(1);
    out.one_line_error("item 0: _start failed: stdout is more than the limit of 1 KiB (--max-output)");
}

#[test]
fn debug_output_of_a_successful_item_is_relayed() {
    let out = rpool(&["run", guests::COMMAND, "-w", "1", "--map", "-"]).stdin(r#"[{"debug": "hello"}]"#).run();
    assert_eq!(out.json(), json!(["ok"]));
    assert!(out.stderr.contains("[worker 0] debug: hello"), "{}", out.stderr);
}

#[test]
fn an_initializer_is_a_usage_error() {
    let out = rpool(&["run", guests::COMMAND, "--init", "setup", "--map", "-"]).stdin("[1]").run();
    out.failure(2);
    out.one_line_error(
        "is a WASI command (it exports `_start` and no task functions): each item runs in a fresh instance",
    );
}

#[test]
fn raw_output_is_refused_for_an_abi_module() {
    let out = rpool(&["run", guests::SQUARE, "--raw-output", "--map", "-"]).stdin("[1]").run();
    out.failure(2);
    out.one_line_error("raw output (--raw-output) is for WASI command modules");
}

#[test]
fn the_library_runs_commands_too() {
    let commands = pool(guests::COMMAND).workers(2).build().unwrap();
    assert_eq!(commands.task_exports(), ["_start"]);
    assert_eq!(commands.default_func().unwrap(), "_start");
    let squares: Vec<i64> = commands.map("_start", [3, 4]).unwrap();
    assert_eq!(squares, [9, 16]);
    let powers: Vec<i64> = commands.starmap("_start", [(2, 5)]).unwrap();
    assert_eq!(powers, [32]);
    let results: Vec<_> = commands.imap::<_, i64>("_start", [json!(2), json!("x")]).unwrap().collect();
    assert_eq!(results[0], Ok(4));
    assert!(
        matches!(&results[1], Err(TaskError::Failed { index: 1, message, .. }) if message.starts_with("exited with code 1")),
        "{results:?}"
    );
    let raw = pool(guests::COMMAND).workers(1).raw_output(true).build().unwrap();
    let texts: Vec<String> = raw.map("_start", [json!({ "echo": "plain text\n" })]).unwrap();
    assert_eq!(texts, ["plain text"]);
    let info = rpool_wasm::ModuleInfo::inspect_in(guests::COMMAND, rpool_wasm_tests::shared_cache_dir()).unwrap();
    assert_eq!(info.mode, ModuleMode::Command);
}

#[test]
fn argv_is_the_programs_name_then_the_arguments_with_the_item_for_braces() {
    let out =
        rpool(&["run", guests::COMMAND, "--map", "-", "--", "-x", "{}", "at {}!"]).stdin(r#"[{"argv": 1}]"#).run();
    assert_eq!(
        out.json(),
        json!([["command.wasm", "-x", r#"{"argv": 1}"#, r#"at {"argv": 1}!"#]]),
        "the item's JSON as the input has it"
    );
    let out = rpool(&["run", guests::COMMAND, "--map", "-", "--", "plain"]).stdin(r#"[{"argv": 1}]"#).run();
    assert_eq!(out.json(), json!([["command.wasm", "plain"]]));
}

#[test]
fn a_command_line_and_raw_input_are_refused_for_an_abi_module() {
    let out = rpool(&["run", guests::SQUARE, "--map", "-", "--", "-l", "{}"]).stdin("[1]").run();
    out.failure(2);
    out.one_line_error("a command line (the arguments after --) is for WASI command modules");
    let out = rpool(&["run", guests::SQUARE, "--map", "-", "--raw-input"]).stdin("[1]").run();
    out.failure(2);
    out.one_line_error("raw input (--raw-input) is for WASI command modules");
}

/// A real program nobody wrote for rpool-wasm: Go's own gofmt, built from
/// its sources with the toolchain's defaults, runs as a task: file names as
/// its arguments (`-l {}`, as xargs would), and source text on stdin and out.
#[test]
fn gofmt_runs_as_a_task() {
    let Some(gofmt) = languages::built(&GOFMT) else { return };
    let scratch = Scratch::new();
    scratch.file("good.go", "package a\n\nfunc F() {}\n");
    scratch.file("bad.go", "package a\nfunc   F( ) { }\n");
    let grant = format!("{}::/src", scratch.path().display());
    let out = rpool(&["run", gofmt, "--map", "-", "--raw-output", "--dir", &grant, "--", "-l", "{}"])
        .stdin(r#"["/src/good.go", "/src/bad.go"]"#)
        .run();
    assert_eq!(out.json(), json!(["", "/src/bad.go"]), "gofmt -l names the file that needs formatting");
    let out = rpool(&["run", gofmt, "--map", "-", "--raw-input", "--raw-output"])
        .stdin(r#"["package a\nfunc   F( ) { }\n"]"#)
        .run();
    assert_eq!(out.json(), json!(["package a\n\nfunc F() {}"]), "text in, text out");
    // A file it cannot see (not granted) is that item's error, with gofmt's message.
    let out = rpool(&["run", gofmt, "--map", "-", "--raw-output", "--", "-l", "{}"]).stdin(r#"["/src/good.go"]"#).run();
    out.failure(1);
    out.one_line_error("item 0: _start failed: exited with code 2: lstat /src/good.go");
}
