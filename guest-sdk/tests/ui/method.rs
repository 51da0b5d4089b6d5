use rpool_guest::task;

struct Counter(i64);

impl Counter {
    #[task]
    fn get(&self) -> i64 {
        self.0
    }
}

fn main() {}
