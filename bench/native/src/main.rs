//! The native-Rust peer of the rpool-wasm benchmarks: the same task functions as
//! `guests/tutorial`, run with rayon on a thread pool of exactly `--workers` threads.
//!
//! `rpool-bench-native FUNC (--map F | --imap F) [--workers N] [--chunksize N]`
//!
//! Reads the JSON array in `F` (`-`: stdin); `--map` prints the JSON array of results,
//! `--imap` prints one JSON result per line, in input order (like `rpool-wasm run`).
//! Items are handed out in chunks of `--chunksize` items (default `ceil(n / (4 × workers))`,
//! as Python's `Pool.map`).

use rayon::prelude::*;
use serde_json::Value;
use std::io::{BufWriter, Read, Write};

fn square(x: i64) -> i64 {
    x.wrapping_mul(x)
}

/// The tutorial's `check_prime`, exactly as `guests/tutorial/src/lib.rs` has it.
fn check_prime(n: u64) -> bool {
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

fn apply(func: &str, item: &Value) -> Value {
    match func {
        "square" => Value::from(square(item.as_i64().expect("square takes an integer"))),
        "check_prime" => Value::from(check_prime(item.as_u64().expect("check_prime takes an unsigned integer"))),
        other => panic!("unknown function {other}"),
    }
}

fn usage() -> ! {
    eprintln!("usage: rpool-bench-native FUNC (--map F | --imap F) [--workers N] [--chunksize N]");
    std::process::exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let func = args.next().unwrap_or_else(|| usage());
    let (mut mode, mut input, mut workers, mut chunksize) = (None, None, None, None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--map" | "--imap" => {
                mode = Some(arg.clone());
                input = Some(value());
            }
            "-w" | "--workers" => workers = Some(value().parse::<usize>().unwrap_or_else(|_| usage())),
            "--chunksize" => chunksize = Some(value().parse::<usize>().unwrap_or_else(|_| usage())),
            _ => usage(),
        }
    }
    let (Some(mode), Some(input)) = (mode, input) else { usage() };
    let workers = workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    let mut text = Vec::new();
    if input == "-" {
        std::io::stdin().read_to_end(&mut text).expect("read stdin");
    } else {
        text = std::fs::read(&input).expect("read the inputs file");
    }
    let items: Vec<Value> = serde_json::from_slice(&text).expect("the inputs are a JSON array");
    drop(text);
    let chunksize = chunksize.unwrap_or_else(|| items.len().div_ceil(4 * workers)).max(1);

    let pool = rayon::ThreadPoolBuilder::new().num_threads(workers).build().expect("thread pool");
    let results: Vec<Value> = pool.install(|| {
        items
            .par_chunks(chunksize)
            .map(|chunk| chunk.iter().map(|item| apply(&func, item)).collect::<Vec<_>>())
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect()
    });

    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    if mode == "--map" {
        serde_json::to_writer(&mut out, &results).expect("write");
        out.write_all(b"\n").expect("write");
    } else {
        for result in &results {
            serde_json::to_writer(&mut out, result).expect("write");
            out.write_all(b"\n").expect("write");
        }
    }
    out.flush().expect("write");
}
