use rpool_guest::task;

#[task]
unsafe fn read(ptr: u64) -> u8 {
    let _ = ptr;
    0
}

fn main() {}
