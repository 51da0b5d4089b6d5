use rpool_guest::task;

#[task]
struct Square(i64);

fn main() {}
