use rpool_guest::task;

#[task(name = "")]
fn square(x: i64) -> i64 {
    x * x
}

#[task(name = "memory")]
fn cube(x: i64) -> i64 {
    x * x * x
}

#[task(name = "a", name = "b")]
fn twice() {}

fn main() {}
