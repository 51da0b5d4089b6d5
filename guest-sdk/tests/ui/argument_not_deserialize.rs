use rpool_guest::task;

struct Opaque;

#[task]
fn take(x: i64, opaque: Opaque) -> i64 {
    let _ = opaque;
    x
}

fn main() {}
