use rpool_guest::task;

#[derive(Debug)]
struct Oops;

#[task]
fn fallible(x: i64) -> Result<i64, Oops> {
    if x < 0 { Err(Oops) } else { Ok(x) }
}

fn main() {}
