use rpool_guest::init;

#[init]
fn setup(x: i64) -> i64 {
    x
}

#[init]
fn setup_result(x: i64) -> Result<i64, String> {
    Ok(x)
}

fn main() {}
