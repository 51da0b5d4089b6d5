//! Tasks that test the host's limits and sandbox rather than compute
//! anything: each one does one thing a careless or hostile task might do.

use rpool_guest::task;

/// Runs forever (until the host's timeout or fuel limit stops it).
#[task]
pub fn spin() -> u64 {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Counts to `n`: a bounded amount of work, for fuel limits.
#[task]
pub fn count(n: u64) -> u64 {
    let mut total: u64 = 0;
    for i in 0..n {
        total = std::hint::black_box(total.wrapping_add(i));
    }
    total
}

/// Allocates and touches `mib` MiB; returns how many bytes it held.
#[task]
pub fn allocate(mib: usize) -> usize {
    let buffer = vec![1u8; mib << 20];
    std::hint::black_box(&buffer).len()
}

/// Returns a string of `bytes` bytes.
#[task]
pub fn big_output(bytes: usize) -> String {
    "x".repeat(bytes)
}

/// Reads a file through WASI.
#[task]
pub fn read_file(path: String) -> Result<String, String> {
    std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))
}

/// Writes a file through WASI.
#[task]
pub fn write_file(path: String, contents: String) -> Result<(), String> {
    std::fs::write(&path, contents).map_err(|e| format!("{path}: {e}"))
}

/// An environment variable, or null if the task cannot see it.
#[task]
pub fn env_var(name: String) -> Option<String> {
    std::env::var(name).ok()
}

/// Prints to stdout and stderr, then returns `x`: printing must never
/// corrupt the results.
#[task]
pub fn chatter(x: i64) -> i64 {
    println!("stdout says {x}");
    eprintln!("stderr says {x}");
    x
}

/// Prints `said x` to stderr and returns `x` squared; traps (an
/// `unreachable`) for a negative `x`: a run that called an item twice
/// would print it twice.
#[task]
pub fn say_or_trap(x: i64) -> i64 {
    eprintln!("said {x}");
    if x < 0 {
        core::arch::wasm32::unreachable();
    }
    x * x
}

/// Recurses without end: a stack overflow (on purpose).
#[task]
#[allow(unconditional_recursion)]
pub fn overflow_stack(depth: u64) -> u64 {
    std::hint::black_box(overflow_stack(std::hint::black_box(depth + 1))) + 1
}

/// Creates the file `path` (a test's sign that this item is running), then
/// sleeps `ms` milliseconds and returns `x * x`.
#[task]
pub fn mark_then_sleep(path: String, ms: u64, x: i64) -> Result<i64, String> {
    std::fs::write(&path, "running").map_err(|e| format!("{path}: {e}"))?;
    std::thread::sleep(std::time::Duration::from_millis(ms));
    Ok(x * x)
}

/// Parses `text` as a number, trapping (not panicking) on anything else:
/// a trap inside a helper, for the test that a trap names where it was.
#[inline(never)]
fn parse_or_trap(text: &str) -> i64 {
    match text.parse() {
        Ok(n) => n,
        Err(_) => core::arch::wasm32::unreachable(),
    }
}

/// `text` as a number, squared; a trap in `parse_or_trap` if it is not one.
#[task]
pub fn parse_and_square(text: String) -> i64 {
    let n = std::hint::black_box(parse_or_trap(&text));
    n * n
}

/// Sleeps `ms` milliseconds and returns it.
/// An initializer that fails on one worker (`RPOOL_WORKER_INDEX`), after
/// `ms`: for the test that a worker failing to start after the pool is built
/// stops the pool.
#[task]
pub fn fails_on_worker(worker: u64, ms: u64) -> Result<(), String> {
    if std::env::var("RPOOL_WORKER_INDEX").ok() == Some(worker.to_string()) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        return Err(format!("worker {worker} refuses to start"));
    }
    Ok(())
}

#[task]
pub fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    ms
}
