use rpool_guest::task;

#[task(nmae = "square2")]
fn square(x: i64) -> i64 {
    x * x
}

fn main() {}
