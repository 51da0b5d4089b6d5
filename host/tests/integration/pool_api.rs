//! The library's `Pool`: every method, typed and raw-JSON forms, the
//! `AsyncResult` object, callbacks, and the lifecycle rules.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rpool_wasm::{GetTimeoutError, JoinError, MapError, SubmitError, TaskError};
use rpool_wasm_tests::guests;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::{all_worker_pids, pool};

fn tutorial(workers: usize) -> rpool_wasm::Pool {
    pool(guests::TUTORIAL).workers(workers).build().unwrap()
}

#[test]
fn raw_json_items_and_results_pass_through_untouched() {
    let pool = tutorial(2);
    let items: Vec<Box<RawValue>> = ["{\"a\": [1, 2]}", "\"text\"", "null", "1.5e3"]
        .iter()
        .map(|s| RawValue::from_string(s.to_string()).unwrap())
        .collect();
    let results: Vec<Box<RawValue>> = pool.map("echo", &items).unwrap();
    let results: Vec<Value> = results.iter().map(|r| serde_json::from_str(r.get()).unwrap()).collect();
    assert_eq!(results, [json!({"a": [1, 2]}), json!("text"), json!(null), json!(1500.0)]);
}

#[test]
fn typed_items_and_results_are_any_serde_types() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Point {
        x: i32,
        label: String,
    }
    let pool = tutorial(2);
    let points = vec![Point { x: 1, label: "a".into() }, Point { x: -2, label: "b".into() }];
    let back: Vec<Point> = pool.map("echo", &points).unwrap();
    assert_eq!(back, points);
}

#[test]
fn a_result_of_the_wrong_type_is_a_decode_error_naming_the_item() {
    let err = tutorial(1).map::<_, String>("square", [1, 2]).unwrap_err();
    let MapError::Task(TaskError::Decode { index, func, .. }) = &err else { panic!("unexpected {err:?}") };
    assert_eq!(func, "square");
    assert!(*index < 2);
}

#[test]
fn a_starmap_item_that_is_not_an_array_fails_naming_its_index() {
    let err = tutorial(1).starmap::<_, i64>("power", [json!([2, 3]), json!(7)]).unwrap_err();
    let MapError::Task(TaskError::Arguments { index, message, .. }) = &err else { panic!("unexpected {err:?}") };
    assert_eq!(*index, 1);
    assert!(message.contains("must be a JSON array"), "{message}");
}

#[test]
fn a_panic_becomes_the_items_error_with_the_panic_message() {
    let pool = tutorial(1);
    let results: Vec<Result<i64, TaskError>> = pool.imap("panic_on", [1, 2, 3]).unwrap().collect();
    assert_eq!(results[0], Ok(1));
    let err = results[1].as_ref().unwrap_err();
    assert!(err.message().contains("cannot handle 2"), "{err}");
    assert_eq!(err.index(), 1);
    // The trap threw the instance away; the next item ran on a fresh one.
    assert_eq!(results[2], Ok(3));
}

#[test]
fn wrong_arity_is_the_guests_error() {
    let err = tutorial(1).apply::<_, i64>("square", (1, 2)).unwrap_err();
    assert!(err.to_string().contains("item 0: square failed"), "{err}");
}

#[test]
fn apply_async_get_and_successful() {
    let pool = tutorial(2);
    let ok = pool.apply_async::<_, i64>("square", (7,)).unwrap();
    ok.wait();
    assert!(ok.ready());
    assert_eq!(ok.successful(), Some(true));
    assert_eq!(ok.items_left(), 0);
    assert_eq!(ok.get().unwrap(), 49);

    let failed = pool.apply_async::<_, i64>("task", (-3,)).unwrap();
    assert!(failed.wait_timeout(Duration::from_secs(30)));
    assert_eq!(failed.successful(), Some(false));
    assert_eq!(failed.get().unwrap_err().message(), "Negative!");
}

#[test]
fn get_timeout_hands_the_result_back_to_wait_again() {
    let pool = tutorial(1);
    let pending = pool.apply_async::<_, i64>("slow_task", (3, 600)).unwrap();
    let pending = match pending.get_timeout(Duration::from_millis(50)) {
        Err(GetTimeoutError::Timeout(again)) => again,
        other => panic!("expected a timeout, got {other:?}"),
    };
    assert_eq!(pending.get_timeout(Duration::from_secs(30)).unwrap(), 9);
    let failing = pool.apply_async::<_, i64>("risky_task", (3,)).unwrap();
    match failing.get_timeout(Duration::from_secs(30)) {
        Err(GetTimeoutError::Failed(e)) => assert_eq!(e.message(), "Cannot process 3"),
        other => panic!("expected the task's error, got {other:?}"),
    }
}

#[test]
fn map_async_and_starmap_async_with_callbacks_run_off_the_collecting_threads() {
    let pool = tutorial(2);
    let threads = Arc::new(Mutex::new(Vec::new()));
    let (t1, t2) = (threads.clone(), threads.clone());
    let squares = pool
        .func("square")
        .map_async_with(
            1..=4,
            move |r: &Vec<i64>| t1.lock().unwrap().push((std::thread::current().name().map(String::from), r.clone())),
            |e| panic!("{e}"),
        )
        .unwrap();
    let powers = pool
        .func("power")
        .starmap_async_with(
            [(2, 2), (3, 3)],
            move |r: &Vec<i64>| t2.lock().unwrap().push((std::thread::current().name().map(String::from), r.clone())),
            |e| panic!("{e}"),
        )
        .unwrap();
    assert_eq!(squares.get().unwrap(), [1, 4, 9, 16]);
    assert_eq!(powers.get().unwrap(), [4, 27]);
    let threads = threads.lock().unwrap().clone();
    assert_eq!(threads.len(), 2, "both callbacks ran before their results were ready");
    for (thread, _) in &threads {
        assert_eq!(thread.as_deref(), Some("rpool-callbacks"));
    }
}

#[test]
fn an_error_callback_gets_the_first_failure() {
    let pool = tutorial(2);
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let result = pool
        .func("risky_task")
        .map_async_with(1..=5, |_: &Vec<i64>| panic!("item 3 fails"), move |e| *s.lock().unwrap() = Some(e.clone()))
        .unwrap();
    let err = result.get().unwrap_err();
    assert_eq!(seen.lock().unwrap().as_ref(), Some(&err));
    assert_eq!((err.index(), err.message()), (2, "Cannot process 3"));
}

#[test]
fn imap_is_lazy_over_an_endless_iterator() {
    let pool = tutorial(2);
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let endless = (0i64..).inspect(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let first: Vec<i64> = pool.imap("square", endless).unwrap().take(10).map(Result::unwrap).collect();
    assert_eq!(first, (0..10).map(|x| x * x).collect::<Vec<_>>());
    let pulled = pulled.load(Ordering::Relaxed);
    // The window for small items is 4096 outstanding (not yet consumed) items.
    assert!(pulled <= 4096 + 10 + 1, "imap pulled {pulled} items to yield 10: it must not read ahead without bound");
}

#[test]
fn imap_unordered_yields_every_index_once_with_per_item_errors() {
    let pool = tutorial(3);
    let mut got: Vec<(usize, Result<i64, String>)> = pool
        .func("risky_task")
        .chunksize(2)
        .imap_unordered(0..10)
        .unwrap()
        .map(|(i, r)| (i, r.map_err(|e| e.message().to_string())))
        .collect();
    got.sort_by_key(|(i, _)| *i);
    let expected: Vec<(usize, Result<i64, String>)> =
        (0..10).map(|x| (x as usize, if x == 3 { Err("Cannot process 3".to_string()) } else { Ok(x * x) })).collect();
    assert_eq!(got, expected);
}

#[test]
fn submitting_after_close_is_refused_and_join_needs_close() {
    let pool = tutorial(1);
    assert_eq!(pool.join(), Err(JoinError::StillRunning));
    let pending = pool.map_async::<_, i64>("square", 0..5).unwrap();
    pool.close();
    assert_eq!(pool.map::<_, i64>("square", [1]).unwrap_err(), MapError::Submit(SubmitError::NotRunning));
    assert_eq!(pool.apply_async::<_, i64>("square", (1,)).unwrap_err(), SubmitError::NotRunning);
    assert!(matches!(pool.imap::<_, i64>("square", [1]), Err(SubmitError::NotRunning)));
    pool.join().unwrap();
    assert_eq!(pending.get().unwrap(), [0, 1, 4, 9, 16], "queued work finishes after close");
    assert!(pool.worker_pids().is_empty(), "the workers have exited");
}

#[test]
fn close_detached_lets_the_work_finish_and_the_workers_end_without_being_waited_for() {
    let pool = tutorial(2);
    let pids = all_worker_pids(&pool);
    let squares = pool.imap::<_, i64>("square", 0..100i64).unwrap();
    pool.close_detached();
    assert_eq!(pool.apply_async::<_, i64>("square", (1,)).unwrap_err(), SubmitError::NotRunning);
    let squares: Vec<i64> = squares.map(Result::unwrap).collect();
    assert_eq!(squares, (0..100).map(|x| x * x).collect::<Vec<_>>(), "the job submitted before finishes");
    pool.join().unwrap();
    assert!(pool.worker_pids().is_empty(), "every worker retired");
    // Reaped by the pool's own thread, not left as zombies.
    let deadline = Instant::now() + Duration::from_secs(10);
    for pid in pids {
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(Instant::now() < deadline, "worker {pid} was never reaped");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn an_unknown_export_is_refused_at_submission() {
    let pool = tutorial(1);
    let err = pool.map::<_, i64>("cube", [1]).unwrap_err();
    assert!(err.to_string().contains("no export `cube`"), "{err}");
    let err = pool.map::<_, i64>("memory", [1]).unwrap_err();
    assert!(err.to_string().contains("export `memory` is a memory"), "{err}");
}

#[test]
fn terminate_fails_outstanding_items_and_never_waits_for_them() {
    let pool = tutorial(2);
    let pending = pool.func("slow_task").chunksize(1).starmap_async::<_, i64>((0..6).map(|x| (x, 5000))).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    pool.terminate();
    assert!(started.elapsed() < Duration::from_secs(3), "terminate took {:?}", started.elapsed());
    let err = pending.get().unwrap_err();
    assert!(matches!(err, TaskError::NotRun { .. }), "{err:?}");
    assert!(err.to_string().contains("terminated"), "{err}");
    pool.join().unwrap();
    assert!(pool.worker_pids().is_empty());
}

#[test]
fn dropping_a_pool_kills_its_workers() {
    let pool = tutorial(2);
    let pids = all_worker_pids(&pool);
    assert_eq!(pids.len(), 2);
    let pending = pool.apply_async::<_, i64>("slow_task", (1, 10_000)).unwrap();
    drop(pool);
    assert!(matches!(pending.get(), Err(TaskError::NotRun { .. })));
    for pid in pids {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "worker {pid} is gone");
    }
}

#[test]
fn introspection() {
    let pool = pool(guests::TUTORIAL).workers(3).initializer("init_worker", &(2,)).build().unwrap();
    assert_eq!(pool.workers(), 3);
    assert_eq!(all_worker_pids(&pool).len(), 3);
    assert!(pool.task_exports().iter().any(|t| t == "check_prime"));
    assert!(pool.default_func().is_err(), "the tutorial has many tasks");
    let square = crate::pool(guests::SQUARE).workers(1).build().unwrap();
    assert_eq!(square.default_func().unwrap(), "square");
}

#[test]
fn the_default_worker_count_is_the_number_of_cores() {
    let pool = pool(guests::SQUARE).build().unwrap();
    assert_eq!(pool.workers(), std::thread::available_parallelism().unwrap().get());
}

#[test]
fn a_failing_initializer_is_a_build_error_naming_it() {
    let err = pool(guests::WAT_SCALE).workers(2).initializer("set_factor", &("x",)).build().unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("initializer set_factor failed")
            && message.contains("set_factor expects one integer argument"),
        "{message}"
    );
}

#[test]
fn empty_input_in_every_method() {
    let pool = tutorial(2);
    let none: [i64; 0] = [];
    assert_eq!(pool.map::<_, i64>("square", none).unwrap(), Vec::<i64>::new());
    assert_eq!(pool.starmap::<(i64, u32), i64>("power", []).unwrap(), Vec::<i64>::new());
    assert_eq!(pool.imap::<_, i64>("square", none).unwrap().count(), 0);
    assert_eq!(pool.imap_unordered::<_, i64>("square", none).unwrap().count(), 0);
    let pending = pool.map_async::<_, i64>("square", none).unwrap();
    assert!(pending.ready() && pending.successful() == Some(true));
    assert_eq!(pending.get().unwrap(), Vec::<i64>::new());
    assert_eq!(pool.starmap_async::<(i64, u32), i64>("power", []).unwrap().get().unwrap(), Vec::<i64>::new());
}

#[test]
fn after_a_trap_the_next_item_sees_a_fresh_initialized_instance() {
    let pool = pool(guests::TUTORIAL).workers(1).initializer("init_worker", &(10,)).build().unwrap();
    let pid = pool.worker_pids();
    let before: Value = pool.apply("whoami", (0,)).unwrap();
    assert_eq!(before["calls"], 1);
    assert!(pool.apply::<_, i64>("panic_on", (2,)).is_err());
    // The same worker process, a new instance: its call count starts again,
    // and the initializer ran on it (process_item needs its factor).
    let after: Value = pool.apply("whoami", (0,)).unwrap();
    assert_eq!(after["calls"], 1, "a fresh instance");
    assert_eq!(pool.apply::<_, i64>("process_item", (4,)).unwrap(), 40, "initialized again");
    assert_eq!(pool.worker_pids(), pid, "a trap costs an instance, not the worker process");
}

/// A Rust task takes a whole chunk in one call (its `rpool:chunk:` export);
/// a panic inside a chunk still fails only its own item, the others keep
/// their results, and the chunk exports are not tasks of their own.
#[test]
fn chunk_calls_answer_each_item_and_a_panic_fails_only_its_item() {
    let pool = pool(guests::TUTORIAL).workers(1).build().unwrap();
    assert!(pool.task_exports().iter().all(|t| !t.starts_with("rpool:chunk:")), "{:?}", pool.task_exports());
    let squares: Vec<i64> = pool.func("square").chunksize(1000).map(0..5000).unwrap();
    assert_eq!(squares, (0..5000).map(|x| x * x).collect::<Vec<i64>>());
    let outcomes: Vec<_> = pool.func("panic_on").chunksize(5).imap::<_, i64>(0..5).unwrap().collect();
    assert_eq!(outcomes[..2], [Ok(0), Ok(1)]);
    let err = outcomes[2].as_ref().unwrap_err().to_string();
    assert!(err.starts_with("item 2: panic_on trapped: panicked at") && err.contains("cannot handle 2"), "{err}");
    assert_eq!(outcomes[3..], [Ok(3), Ok(4)]);
}
