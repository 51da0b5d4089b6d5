//! `wasmtime run rpool-bench-wasi-item.wasm FUNC ARG`: one task call per process, what a user
//! does today with a shell loop around `wasmtime run`. Prints the result as JSON.
//! The functions are exactly those of `guests/tutorial`.

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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: rpool-bench-wasi-item.wasm (square|check_prime) N");
        std::process::exit(2);
    }
    match args[1].as_str() {
        "square" => {
            let x: i64 = args[2].parse().expect("an integer");
            println!("{}", x.wrapping_mul(x));
        }
        "check_prime" => {
            let n: u64 = args[2].parse().expect("an unsigned integer");
            println!("{}", check_prime(n));
        }
        other => {
            eprintln!("unknown function {other}");
            std::process::exit(2);
        }
    }
}
