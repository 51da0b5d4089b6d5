use rpool_guest::task;

struct Opaque;

#[task]
fn make() -> Opaque {
    Opaque
}

#[task]
fn maybe_make() -> Result<Opaque, String> {
    Ok(Opaque)
}

fn main() {}
