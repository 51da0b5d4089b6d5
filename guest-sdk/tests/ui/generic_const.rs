use rpool_guest::init;

#[init]
fn setup<const N: usize>(x: [i64; N]) {
    let _ = x;
}

fn main() {}
