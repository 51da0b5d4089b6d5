//! Every function of the `multiprocessing.Pool` tutorial, as rpool tasks.
//!
//! Each Python function `f` of the tutorial is the export `f` here, with the same arguments:
//! `map` tasks take one parameter, `starmap`/`apply` tasks one per positional argument. Where
//! the Python version sleeps a random time or makes up a random number, this one uses a
//! deterministic value derived from its input, so that tests can rely on the results.
//!
//! Tasks added for rpool's own tests: `slow_task` (a sleep of a chosen length), `whoami`
//! (which worker and instance served a call), `echo` and `panic_on`.

use rpool_guest::{init, task};
use serde_json::{Value, json};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// map(), chunksize, apply()
// ---------------------------------------------------------------------------------------------

/// `x ** 2`.
#[task]
pub fn square(x: i64) -> i64 {
    x * x
}

/// `x * 2` (the chunksize example).
#[task]
pub fn process(x: i64) -> i64 {
    x * 2
}

/// `x * 2` (the pool lifecycle example's `worker`).
#[task]
pub fn worker(x: i64) -> i64 {
    x * 2
}

/// `x * 2` (the chunksize optimisation example's `quick_task`).
#[task]
pub fn quick_task(x: i64) -> i64 {
    x * 2
}

/// `x ** 3`.
#[task]
pub fn heavy_computation(x: i64) -> i64 {
    x * x * x
}

/// `factorial(x % 15 + 5) % 1000`, computed exactly (at most 19!, which fits in a `u64`).
#[task]
pub fn cpu_task(x: u64) -> u64 {
    (1..=x % 15 + 5).product::<u64>() % 1000
}

/// Sleeps 200 ms, then returns `x ** 2`.
#[task]
pub fn slow_square(x: i64) -> i64 {
    sleep(Duration::from_millis(200));
    x * x
}

/// Sleeps `ms` milliseconds, then returns `x ** 2` (for timeouts and terminate()).
#[task]
pub fn slow_task(x: i64, ms: u64) -> i64 {
    sleep(Duration::from_millis(ms));
    x * x
}

/// `x + y + z` (`apply(compute, args=(1, 2, 3))`).
#[task]
pub fn compute(x: i64, y: i64, z: i64) -> i64 {
    x + y + z
}

// ---------------------------------------------------------------------------------------------
// starmap()
// ---------------------------------------------------------------------------------------------

/// `base ** exp` (`starmap(power, [(2, 3), ...])`).
#[task]
pub fn power(base: i64, exp: u32) -> i64 {
    base.pow(exp)
}

/// `base ** exponent`.
#[task]
pub fn calculate_power(base: i64, exponent: u32) -> i64 {
    base.pow(exponent)
}

// ---------------------------------------------------------------------------------------------
// Initializers and per-worker state
// ---------------------------------------------------------------------------------------------

/// The `shared_data` given to [`init_worker`] on this worker, if it ran.
static WORKER_DATA: Mutex<Option<i64>> = Mutex::new(None);

/// Initializer: stores `shared_data` for [`process_item`].
#[init]
pub fn init_worker(shared_data: i64) {
    eprintln!(
        "worker {}: initialized with {shared_data}",
        env_u32("RPOOL_WORKER_INDEX").map_or_else(|| "?".to_string(), |i| i.to_string())
    );
    *lock(&WORKER_DATA) = Some(shared_data);
}

/// `x * shared_data`, with the value that [`init_worker`] stored.
#[task]
pub fn process_item(x: i64) -> Result<i64, String> {
    match *lock(&WORKER_DATA) {
        Some(data) => Ok(x * data),
        None => Err("init_worker was not called".to_string()),
    }
}

/// The number of "connections" [`init_db`] opened in this instance.
static CONNECTIONS_OPENED: AtomicU32 = AtomicU32::new(0);
/// This instance's connection (its number), opened by [`init_db`].
static CONNECTION: Mutex<Option<u32>> = Mutex::new(None);

/// Initializer: opens this worker's (fake) database connection.
#[init]
pub fn init_db() {
    let number = CONNECTIONS_OPENED.fetch_add(1, Ordering::Relaxed) + 1;
    *lock(&CONNECTION) = Some(number);
}

/// Runs `sql` on the worker's connection: `"worker W, connection C: SQL"`.
#[task]
pub fn query(sql: String) -> Result<String, String> {
    let Some(connection) = *lock(&CONNECTION) else {
        return Err("no database connection: init_db was not called".to_string());
    };
    let worker = env_u32("RPOOL_WORKER_INDEX").map_or_else(|| "?".to_string(), |i| i.to_string());
    Ok(format!("worker {worker}, connection {connection}: {sql}"))
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Fails for 3 (`Cannot process 3`), otherwise `x ** 2`.
#[task]
pub fn risky_task(x: i64) -> Result<i64, String> {
    if x == 3 {
        return Err(format!("Cannot process {x}"));
    }
    Ok(x * x)
}

/// Fails for negative numbers (`Negative!`), otherwise `x ** 2`.
#[task]
pub fn task(x: i64) -> Result<i64, String> {
    if x < 0 {
        return Err("Negative!".to_string());
    }
    Ok(x * x)
}

/// `(a / b, None)`, or `(None, "division by zero")` when `b` is 0.
#[task]
pub fn safe_divide(a: f64, b: f64) -> (Option<f64>, Option<String>) {
    if b == 0.0 { (None, Some("division by zero".to_string())) } else { (Some(a / b), None) }
}

/// `numerator / denominator`; fails with `division by zero`.
#[task]
pub fn risky_division(numerator: f64, denominator: f64) -> Result<f64, String> {
    if denominator == 0.0 {
        return Err("division by zero".to_string());
    }
    Ok(numerator / denominator)
}

/// [`risky_division`] with its error caught: `(result, None)` or `(None, message)`.
#[task]
pub fn safe_division(numerator: f64, denominator: f64) -> (Option<f64>, Option<String>) {
    match risky_division(numerator, denominator) {
        Ok(result) => (Some(result), None),
        Err(message) => (None, Some(message)),
    }
}

// ---------------------------------------------------------------------------------------------
// apply_async() and CPU-bound work
// ---------------------------------------------------------------------------------------------

/// `n!`; fails when it does not fit in a `u64` (`n > 20`).
#[task]
pub fn factorial(n: u64) -> Result<u64, String> {
    (1..=n).try_fold(1u64, u64::checked_mul).ok_or_else(|| format!("factorial({n}) does not fit in 64 bits"))
}

/// `(n, n!)`.
#[task]
pub fn compute_factorial(n: u64) -> Result<(u64, u64), String> {
    factorial(n).map(|result| (n, result))
}

/// The tutorial's primality test, exactly: even numbers (2 included) are not prime, then odd
/// divisors from 3 up to `int(sqrt(n) + 1)` (excluded) are tried.
#[task]
pub fn check_prime(n: u64) -> bool {
    if n.is_multiple_of(2) {
        return false;
    }
    let to = ((n as f64).sqrt() + 1.0) as u64;
    for i in (3..to).step_by(2) {
        if n.is_multiple_of(i) {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// imap_unordered() and real-world examples
// ---------------------------------------------------------------------------------------------

/// Sleeps 10 to 100 ms (a delay derived from `x`), then returns `(x, delay in seconds)`.
#[task]
pub fn variable_task(x: i64) -> (i64, f64) {
    let delay_ms = 10 + mix(x as u64) % 91;
    sleep(Duration::from_millis(delay_ms));
    (x, delay_ms as f64 / 1000.0)
}

/// A simulated image processing result, with a size (1 to 5 MB) derived from `image_id`.
#[task]
pub fn process_image(image_id: String) -> Value {
    let hash = image_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    let size_mb = 1.0 + (mix(hash) % 4001) as f64 / 1000.0;
    json!({
        "id": image_id,
        "operations": ["resize", "filter", "compress"],
        "size_mb": size_mb,
        "status": "success",
    })
}

/// `"Resized {input_path}"`; `map` passes the whole `(input, output, (w, h))` tuple as one
/// argument.
#[task]
pub fn resize_image(args: (String, String, (u32, u32))) -> String {
    let (input_path, _output_path, _size) = args;
    format!("Resized {input_path}")
}

/// `"Parsed {url}"`.
#[task]
pub fn fetch_and_parse(url: String) -> String {
    format!("Parsed {url}")
}

// ---------------------------------------------------------------------------------------------
// For rpool's own tests
// ---------------------------------------------------------------------------------------------

/// Calls served by this instance.
static CALLS: AtomicU32 = AtomicU32::new(0);

/// `{"item": x, "worker": RPOOL_WORKER_INDEX, "workers": RPOOL_WORKERS, "calls": N}`, where
/// `N` counts the calls this instance has served, this one included (1 on a fresh instance).
#[task]
pub fn whoami(x: Value) -> Value {
    let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    json!({
        "item": x,
        "worker": env_u32("RPOOL_WORKER_INDEX"),
        "workers": env_u32("RPOOL_WORKERS"),
        "calls": calls,
    })
}

/// [`whoami`] after sleeping `ms` milliseconds: items long enough that one worker cannot take
/// them all before the others are awake.
#[task]
pub fn slow_whoami(x: Value, ms: u64) -> Value {
    sleep(Duration::from_millis(ms));
    whoami(x)
}

/// Returns its argument.
#[task]
pub fn echo(v: Value) -> Value {
    v
}

/// Panics for 2 (`cannot handle 2`), otherwise returns `x`.
#[task]
pub fn panic_on(x: i64) -> i64 {
    if x == 2 {
        panic!("cannot handle {x}");
    }
    x
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// An environment variable as a `u32` (`None` if unset or not a number).
fn env_u32(name: &str) -> Option<u32> {
    std::env::var(name).ok()?.parse().ok()
}

/// Locks a mutex, ignoring poisoning (a wasm instance is single-threaded, and a panic traps it).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// SplitMix64's finaliser: a well-mixed, deterministic hash of `x`.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
