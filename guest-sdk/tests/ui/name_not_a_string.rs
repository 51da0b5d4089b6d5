use rpool_guest::{init, task};

#[task(name = square2)]
fn square(x: i64) -> i64 {
    x * x
}

#[init(name = 7)]
fn setup() {}

fn main() {}
