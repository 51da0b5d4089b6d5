//! The sandbox: by default a task sees no files and no host environment;
//! grants are explicit (`--dir`, `--ro-dir`, `--env`), and guest output
//! never mixes into the results.

use rpool_wasm_tests::{Scratch, guests};
use serde_json::json;

use crate::rpool;

fn read(path: &str, grants: &[&str]) -> rpool_wasm_tests::Output {
    let mut args = vec!["run", guests::PROBE, "--func", "read_file", "--map", "-"];
    args.extend_from_slice(grants);
    rpool(&args).stdin(&json!([path]).to_string()).run()
}

#[test]
fn a_task_cannot_read_host_files_by_default() {
    let out = read("/etc/passwd", &[]);
    out.failure(1);
    out.one_line_error("read_file failed: /etc/passwd: No such file or directory");
}

#[test]
fn a_granted_directory_is_readable_and_nothing_outside_it() {
    let s = Scratch::new();
    std::fs::create_dir(s.path().join("data")).unwrap();
    std::fs::write(s.path().join("data/inside.txt"), "inside").unwrap();
    std::fs::write(s.path().join("outside.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(s.path().join("outside.txt"), s.path().join("data/link.txt")).unwrap();
    let grant = format!("{}::/data", s.path().join("data").display());

    assert_eq!(read("/data/inside.txt", &["--ro-dir", &grant]).json(), json!(["inside"]));
    for escape in ["/data/../outside.txt", "/data/link.txt", "/etc/passwd"] {
        let out = read(escape, &["--ro-dir", &grant]);
        out.failure(1);
        assert!(!out.stdout.contains("secret") && !out.stderr.contains("secret"), "{escape} escaped: {}", out.stderr);
        out.one_line_error(&format!("read_file failed: {escape}:"));
    }
}

#[test]
fn a_read_only_directory_cannot_be_written_and_a_granted_one_can() {
    let s = Scratch::new();
    let grant = format!("{}::/out", s.path().display());
    let write = |flag: &str| {
        rpool(&["run", guests::PROBE, "--func", "write_file", "--starmap", "-", flag, &grant])
            .stdin(r#"[["/out/new.txt", "hello"]]"#)
            .run()
    };
    let out = write("--ro-dir");
    out.failure(1);
    out.one_line_error("write_file failed: /out/new.txt:");
    assert!(!s.path().join("new.txt").exists());
    assert_eq!(write("--dir").json(), json!([null]));
    assert_eq!(std::fs::read_to_string(s.path().join("new.txt")).unwrap(), "hello");
}

#[test]
fn a_missing_directory_grant_is_a_usage_error() {
    let out = rpool(&["run", guests::PROBE, "--func", "read_file", "--map", "-", "--dir", "/nonexistent/dir::/d"])
        .stdin("[]")
        .run();
    out.failure(2);
    out.one_line_error("/nonexistent/dir is not a directory");
}

#[test]
fn host_environment_variables_are_hidden_unless_granted() {
    let env_var = |grants: &[&str]| {
        let mut args = vec!["run", guests::PROBE, "--func", "env_var", "--map", "-"];
        args.extend_from_slice(grants);
        rpool(&args).env("RPOOL_TEST_SECRET", "hunter2").stdin(r#"["RPOOL_TEST_SECRET", "PATH"]"#).run()
    };
    assert_eq!(env_var(&[]).json(), json!([null, null]));
    assert_eq!(env_var(&["--env", "RPOOL_TEST_SECRET"]).json(), json!(["hunter2", null]));
    assert_eq!(env_var(&["--env", "RPOOL_TEST_SECRET=other"]).json(), json!(["other", null]));
    let out = env_var(&["--env", "RPOOL_TEST_UNSET_VARIABLE"]);
    out.failure(2);
    out.one_line_error("RPOOL_TEST_UNSET_VARIABLE is not set");
}

#[test]
fn guest_stdout_and_stderr_go_to_stderr_prefixed_by_worker() {
    let out = rpool(&["run", guests::PROBE, "--func", "chatter", "--map", "-", "-w", "1"]).stdin("[1, 2]").run();
    assert_eq!(out.success(), "[1,2]\n", "printing never corrupts the results");
    for line in
        ["[worker 0] stdout says 1", "[worker 0] stderr says 1", "[worker 0] stdout says 2", "[worker 0] stderr says 2"]
    {
        assert!(out.stderr.lines().any(|l| l == line), "missing {line:?} in {}", out.stderr);
    }
}

#[test]
fn every_line_a_guest_prints_is_passed_on_before_the_command_exits() {
    // The command does not wait for its workers' processes to end, only for
    // their output: what they printed last must still arrive.
    let items: Vec<String> = (0..300).map(|i| i.to_string()).collect();
    let input = format!("[{}]", items.join(","));
    let out = rpool(&["run", guests::PROBE, "--func", "chatter", "--map", "-", "-w", "2", "--chunksize", "1"])
        .stdin(&input)
        .run();
    assert_eq!(out.success(), format!("{input}\n"));
    for i in &items {
        for stream in ["stdout", "stderr"] {
            let said = format!("] {stream} says {i}");
            assert!(out.stderr.lines().any(|l| l.ends_with(&said)), "missing {said:?} in {}", out.stderr);
        }
    }
}
