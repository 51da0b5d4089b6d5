//! Embeds a pool of wasm workers in a program's own `main`.
//!
//! Run it with the tutorial guest:
//!
//! ```text
//! cargo build --release --target wasm32-wasip1 --manifest-path guests/Cargo.toml
//! cargo run -p rpool-wasm --example embed -- guests/target/wasm32-wasip1/release/tutorial.wasm
//! ```
//!
//! The workers are `rpool-wasm` processes, found beside this program (cargo
//! builds it there) or on `PATH`; see `PoolBuilder::worker_program`.

use rpool_wasm::{Pool, TaskError};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let module = std::env::args().nth(1).ok_or("usage: embed TUTORIAL.wasm")?;
    let pool = Pool::builder(&module).workers(4).build()?;

    let squares: Vec<i64> = pool.map("square", 1..=5)?;
    println!("map square: {squares:?}");

    let powers: Vec<i64> = pool.starmap("power", [(2, 3), (3, 4), (4, 5), (5, 6)])?;
    println!("starmap power: {powers:?}");

    let risky: Vec<String> = pool
        .imap::<_, i64>("risky_task", 0..5)?
        .map(|r: Result<i64, TaskError>| match r {
            Ok(v) => format!("Ok({v})"),
            Err(e) => format!("Err({})", e.message()),
        })
        .collect();
    println!("imap risky_task: {}", risky.join(" "));

    let sum = pool.apply_async::<_, i64>("compute", (1, 2, 3))?;
    println!("apply_async compute: {}", sum.get()?);

    pool.close();
    pool.join()?;

    let scaled = Pool::builder(&module).workers(2).initializer("init_worker", &(10,)).build()?;
    let values: Vec<i64> = scaled.map("process_item", [1, 2, 3, 4, 5])?;
    println!("initializer: {values:?}");
    Ok(())
}
