//! Every example of the Python tutorial the project grew from
//! (`shared/seed/pool_tutorial.txt`), as a wasm task in `guests/tutorial`,
//! with its exact expected output.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rpool_wasm::{Pool, TaskError};
use rpool_wasm_tests::guests;
use serde_json::{Value, json};

use crate::{pool, rpool};

fn tutorial(workers: usize) -> Pool {
    pool(guests::TUTORIAL).workers(workers).build().unwrap()
}

#[test]
fn basic_pool_usage_square() {
    let pool = tutorial(4);
    let results: Vec<i64> = pool.map("square", [1, 2, 3, 4, 5]).unwrap();
    assert_eq!(results, [1, 4, 9, 16, 25]);
}

#[test]
fn map_with_chunksize_process() {
    let pool = tutorial(4);
    let data: Vec<i64> = (0..1000).collect();
    let expected: Vec<i64> = data.iter().map(|x| x * 2).collect();
    let default: Vec<i64> = pool.map("process", &data).unwrap();
    assert_eq!(default, expected);
    for chunksize in [1, 10, 50, 100] {
        let chunked: Vec<i64> = pool.func("process").chunksize(chunksize).map(&data).unwrap();
        assert_eq!(chunked, expected, "chunksize {chunksize}");
    }
}

#[test]
fn starmap_power_and_calculate_power() {
    let pool = tutorial(4);
    let results: Vec<i64> = pool.starmap("power", [(2, 3), (3, 4), (4, 5), (5, 6)]).unwrap();
    assert_eq!(results, [8, 81, 1024, 15625]);
    let tasks = [(2, 3), (3, 4), (5, 2), (10, 3), (7, 2)];
    let results: Vec<i64> = pool.starmap("calculate_power", tasks).unwrap();
    assert_eq!(results, [8, 81, 25, 1000, 49]);
}

#[test]
fn exercise_2_starmap_of_ten_pairs() {
    let pairs = [(2, 10), (3, 5), (5, 3), (7, 4), (10, 6), (2, 20), (3, 10), (4, 8), (6, 5), (9, 3)];
    let expected: Vec<i64> = pairs.iter().map(|&(b, e): &(i64, u32)| b.pow(e)).collect();
    let results: Vec<i64> = tutorial(4).starmap("power", pairs).unwrap();
    assert_eq!(results, expected);
}

#[test]
fn initializer_init_worker_with_initargs() {
    let pool = pool(guests::TUTORIAL).workers(4).initializer("init_worker", &(10,)).build().unwrap();
    let results: Vec<i64> = pool.map("process_item", [1, 2, 3, 4, 5]).unwrap();
    assert_eq!(results, [10, 20, 30, 40, 50]);
}

#[test]
fn database_connection_per_worker() {
    let pool = pool(guests::TUTORIAL).workers(2).initializer("init_db", &()).build().unwrap();
    let results: Vec<String> = pool.map("query", ["SELECT * FROM users", "SELECT * FROM orders"]).unwrap();
    assert_eq!(results.len(), 2);
    for (result, sql) in results.iter().zip(["SELECT * FROM users", "SELECT * FROM orders"]) {
        assert!(result.starts_with("worker ") && result.ends_with(&format!("connection 1: {sql}")), "{result}");
    }
}

#[test]
fn risky_task_map_fails_with_the_items_index_and_message() {
    let err = tutorial(4).map::<_, i64>("risky_task", [1, 2, 3, 4, 5]).unwrap_err();
    let rpool_wasm::MapError::Task(TaskError::Failed { index, func, message }) = err else {
        panic!("unexpected {err:?}")
    };
    assert_eq!((index, func.as_str(), message.as_str()), (2, "risky_task", "Cannot process 3"));
}

#[test]
fn risky_task_imap_yields_four_results_and_one_error() {
    let pool = tutorial(4);
    let results: Vec<Result<i64, TaskError>> = pool.imap("risky_task", 0..5).unwrap().collect();
    assert_eq!(results.len(), 5);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
    assert_eq!(results[..3].iter().map(|r| r.clone().ok()).collect::<Vec<_>>(), [Some(0), Some(1), Some(4)]);
    assert_eq!(results[3].as_ref().unwrap_err().message(), "Cannot process 3");
    assert_eq!(results[3].as_ref().unwrap_err().index(), 3);
    assert_eq!(results[4], Ok(16));
}

#[test]
fn risky_task_through_the_cli_exits_1_naming_the_item() {
    let out = rpool(&["run", guests::TUTORIAL, "--func", "risky_task", "--map", "-"]).stdin("[1, 2, 3, 4, 5]").run();
    out.failure(1);
    out.one_line_error("item 2: risky_task failed: Cannot process 3");
    assert_eq!(out.stdout, "", "no partial output");
}

#[test]
fn error_callback_with_apply_async() {
    let pool = tutorial(4);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (ok, err) = (seen.clone(), seen.clone());
    pool.func("task")
        .apply_async_with(
            (5,),
            move |r: &i64| ok.lock().unwrap().push(format!("Success: {r}")),
            |_| panic!("5 succeeds"),
        )
        .unwrap();
    pool.func("task")
        .apply_async_with(
            (-1,),
            |_: &i64| panic!("-1 fails"),
            move |e| err.lock().unwrap().push(format!("Error: {}", e.message())),
        )
        .unwrap();
    pool.close();
    pool.join().unwrap();
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["Error: Negative!", "Success: 25"]);
}

#[test]
fn apply_compute() {
    let result: i64 = tutorial(4).apply("compute", (1, 2, 3)).unwrap();
    assert_eq!(result, 6);
}

#[test]
fn apply_async_slow_compute_and_the_async_result_object() {
    let pool = tutorial(4);
    let async_result = pool.apply_async::<_, i64>("slow_task", (10, 1500)).unwrap();
    assert!(!async_result.ready());
    assert_eq!(async_result.successful(), None, "not ready yet");
    assert!(!async_result.wait_timeout(Duration::from_millis(300)), "still running after the wait");
    assert!(!async_result.ready());
    assert_eq!(async_result.get_timeout(Duration::from_secs(30)).unwrap(), 100);
}

#[test]
fn map_async_with_progress() {
    let pool = tutorial(4);
    let numbers: Vec<i64> = (0..20).collect();
    let result = pool.func("slow_task").chunksize(1).starmap_async::<_, i64>(numbers.iter().map(|&x| (x, 50))).unwrap();
    let mut remaining_seen = Vec::new();
    while !result.ready() {
        remaining_seen.push(result.items_left());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(result.items_left(), 0);
    assert!(remaining_seen.windows(2).all(|w| w[0] >= w[1]), "items left only decreases: {remaining_seen:?}");
    assert!(remaining_seen.first().is_some_and(|&n| n > 0));
    assert_eq!(result.successful(), Some(true));
    let final_results = result.get().unwrap();
    assert_eq!(final_results[..5], [0, 1, 4, 9, 16]);

    let cubes: Vec<i64> = pool.map_async("heavy_computation", &numbers).unwrap().get().unwrap();
    assert_eq!(cubes[..5], [0, 1, 8, 27, 64]);
}

#[test]
fn compute_factorial_with_callbacks() {
    let pool = tutorial(3);
    let seen = Arc::new(Mutex::new(Vec::new()));
    for n in [5, 10, 15, 20] {
        let seen = seen.clone();
        pool.func("compute_factorial")
            .apply_async_with((n,), move |r: &(u64, u64)| seen.lock().unwrap().push(*r), |e| panic!("{e}"))
            .unwrap();
    }
    pool.close();
    pool.join().unwrap();
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, [(5, 120), (10, 3628800), (15, 1307674368000), (20, 2432902008176640000)]);
}

#[test]
fn exercise_1_factorials_of_1_to_20() {
    let expected: Vec<u64> = (1..=20u64).map(|n| (1..=n).product()).collect();
    let results: Vec<u64> = tutorial(4).map("factorial", 1..=20).unwrap();
    assert_eq!(results, expected);
}

#[test]
fn exercise_3_safe_divide() {
    let pairs = [(10, 2), (20, 0), (30, 5), (40, 0), (50, 10), (60, 3), (70, 0), (80, 4), (90, 9), (100, 0)];
    let results: Vec<Value> = tutorial(4).starmap("safe_divide", pairs).unwrap();
    let zero = json!([null, "division by zero"]);
    assert_eq!(
        Value::Array(results),
        json!([
            [5.0, null],
            zero,
            [6.0, null],
            zero,
            [5.0, null],
            [20.0, null],
            zero,
            [20.0, null],
            [10.0, null],
            zero
        ])
    );
}

#[test]
fn error_handling_risky_division_and_safe_handling() {
    let pool = tutorial(2);
    let tasks = [(10, 2), (20, 4), (15, 0), (30, 6), (25, 0)];
    let err = pool.starmap::<_, f64>("risky_division", tasks).unwrap_err();
    assert!(err.to_string().contains("division by zero"), "{err}");
    let results: Vec<Value> = pool.starmap("safe_divide", tasks).unwrap();
    let errors = results.iter().filter(|r| r[1] == "division by zero").count();
    assert_eq!(errors, 2);
}

#[test]
fn prime_validation_numbers() {
    let numbers: [u64; 5] =
        [112272535095295, 100109100129100369, 100109100129101027, 100109100129100151, 100109100129162907];
    let started = Instant::now();
    let results: Vec<bool> = tutorial(2).map("check_prime", numbers).unwrap();
    assert_eq!(results, [false, false, false, true, true], "took {:?}", started.elapsed());
}

#[test]
fn prime_validation_with_apply_async() {
    let pool = tutorial(2);
    let pending: Vec<_> = [112272535095295u64, 97, 100, 10007]
        .iter()
        .map(|&n| pool.apply_async::<_, bool>("check_prime", (n,)).unwrap())
        .collect();
    let results: Vec<bool> = pending.into_iter().map(|r| r.get().unwrap()).collect();
    assert_eq!(results, [false, true, false, true]);
}

#[test]
fn pool_sizes_give_the_same_cpu_task_results() {
    let numbers: Vec<u64> = (0..40).collect();
    let expected: Vec<u64> = numbers.iter().map(|x| (1..=(x % 15 + 5)).product::<u64>() % 1000).collect();
    for size in [1, 2, 4] {
        let results: Vec<u64> = tutorial(size).map("cpu_task", &numbers).unwrap();
        assert_eq!(results, expected, "{size} workers");
    }
}

#[test]
fn slow_square_runs_in_parallel_on_distinct_workers() {
    // Eight items of 200 ms on four workers: 1.6 s in series. The bound is
    // generous; speed itself is measured by the benchmarks.
    // A serial run can never take less than 1.6 s; the best of three runs
    // keeps a loaded machine's scheduling noise out of the verdict.
    let pool = tutorial(4);
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let results: Vec<i64> = pool.func("slow_square").chunksize(1).map(0..8).unwrap();
        times.push(started.elapsed());
        assert_eq!(results, [0, 1, 4, 9, 16, 25, 36, 49]);
        if times.last().unwrap() < &Duration::from_millis(1200) {
            break;
        }
    }
    assert!(times.iter().any(|t| *t < Duration::from_millis(1200)), "8 × 200 ms on 4 workers took {times:?}");
    // Which workers ran them, with items long enough that one worker cannot
    // take them all (tiny ones, it may: a worker holds a millisecond's worth).
    let whoami: Vec<Value> = pool.func("slow_whoami").chunksize(1).starmap((0..8).map(|x| (x, 100))).unwrap();
    let mut workers: Vec<u64> = whoami.iter().map(|w| w["worker"].as_u64().unwrap()).collect();
    workers.sort();
    workers.dedup();
    assert!(workers.len() >= 2, "items ran in distinct worker processes: {whoami:?}");
}

#[test]
fn imap_lazy_iteration_of_slow_square() {
    let pool = tutorial(4);
    let results: Vec<i64> = pool.imap("slow_square", 0..8).unwrap().map(Result::unwrap).collect();
    assert_eq!(results, [0, 1, 4, 9, 16, 25, 36, 49]);
}

#[test]
fn imap_unordered_variable_task() {
    let pool = tutorial(4);
    let mut seen: Vec<i64> = pool
        .imap_unordered::<_, (i64, f64)>("variable_task", 0..10)
        .unwrap()
        .map(|(index, r)| {
            let (x, delay) = r.unwrap();
            assert_eq!(x as usize, index);
            assert!((0.01..=0.1).contains(&delay), "{delay}");
            x
        })
        .collect();
    seen.sort();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
}

#[test]
fn batch_image_processing_with_imap_unordered_chunksize_5() {
    let pool = tutorial(2);
    let ids: Vec<String> = (0..50).map(|i| format!("IMG_{i:04}")).collect();
    let results: Vec<Value> =
        pool.func("process_image").chunksize(5).imap_unordered(&ids).unwrap().map(|(_, r)| r.unwrap()).collect();
    assert_eq!(results.len(), 50);
    let mut got: Vec<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    got.sort();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        results.iter().all(|r| r["status"] == "success" && r["operations"] == json!(["resize", "filter", "compress"]))
    );
}

#[test]
fn parallel_image_resizing_maps_over_tuples() {
    let images = [
        ("img1.jpg", "out1.jpg", (100, 100)),
        ("img2.jpg", "out2.jpg", (100, 100)),
        ("img3.jpg", "out3.jpg", (100, 100)),
    ];
    let results: Vec<String> = tutorial(2).map("resize_image", images).unwrap();
    assert_eq!(results, ["Resized img1.jpg", "Resized img2.jpg", "Resized img3.jpg"]);
}

#[test]
fn parallel_web_scraping() {
    let urls: Vec<String> = (0..20).map(|i| format!("https://example.com/page{i}")).collect();
    let results: Vec<String> = tutorial(8).map("fetch_and_parse", &urls).unwrap();
    assert_eq!(results, urls.iter().map(|u| format!("Parsed {u}")).collect::<Vec<_>>());
}

#[test]
fn lifecycle_manual_management_and_context_manager() {
    // Manual: map, close, join.
    let pool = tutorial(4);
    let results: Vec<i64> = pool.map("square", 0..10).unwrap();
    assert_eq!(results, (0..10).map(|x| x * x).collect::<Vec<_>>());
    pool.close();
    pool.join().unwrap();
    // Scoped, as `with Pool(4) as pool:`: dropping cleans up.
    {
        let pool = tutorial(4);
        let results: Vec<i64> = pool.map("process", 10..20).unwrap();
        assert_eq!(results, (10..20).map(|x| x * 2).collect::<Vec<_>>());
    }
    // terminate() vs close(): terminate does not wait, then join.
    let pool2 = tutorial(4);
    pool2.terminate();
    pool2.join().unwrap();
}

#[test]
fn context_manager_worker_and_chunksize_optimization_quick_task() {
    let pool = tutorial(4);
    let doubled: Vec<i64> = pool.map("worker", 0..10).unwrap();
    assert_eq!(doubled, (0..10).map(|x| x * 2).collect::<Vec<_>>());
    let numbers: Vec<i64> = (0..1000).collect();
    for chunksize in [1, 10, 50, 100] {
        let results: Vec<i64> = pool.func("quick_task").chunksize(chunksize).map(&numbers).unwrap();
        assert_eq!(results, numbers.iter().map(|x| x * 2).collect::<Vec<_>>(), "chunksize {chunksize}");
    }
}

#[test]
fn error_handling_method_2_safe_division() {
    let tasks = [(10, 2), (20, 4), (15, 0), (30, 6), (25, 0)];
    let results: Vec<(Option<f64>, Option<String>)> = tutorial(2).starmap("safe_division", tasks).unwrap();
    let zero = (None, Some("division by zero".to_string()));
    assert_eq!(results, [(Some(5.0), None), (Some(5.0), None), zero.clone(), (Some(5.0), None), zero]);
}
