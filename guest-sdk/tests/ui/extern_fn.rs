use rpool_guest::task;

#[task]
extern "C" fn square(x: i64) -> i64 {
    x * x
}

fn main() {}
