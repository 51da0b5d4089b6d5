// The multiprocessing.Pool tutorial's functions as rpool tasks, in plain JavaScript.
//
// Build: guests/javascript/build.sh (writes guests/javascript/tasks.wasm), then for example
//
//   rpool-wasm run guests/javascript/tasks.wasm --func square --map - <<< '[1, 2, 3, 4, 5]'
//
// Every exported function is a task; each receives the call's positional arguments (`map`
// passes one, `starmap` unpacks each item) and returns a JSON-encodable value. A thrown Error
// fails that item with its toString(), e.g. `Error: Cannot process 3`. The messages mirror the
// project's Rust tutorial guest (guests/tutorial). `rpool.sleep`, `rpool.env` and
// `rpool.readTextFile` are the SDK's helpers (guest-sdk/javascript/README.md).

// ---------------------------------------------------------------------------------------------
// map(), apply()
// ---------------------------------------------------------------------------------------------

/** `x ** 2`. */
export function square(x) {
  return x * x;
}

/** Sleeps 200 ms, then returns `x ** 2`. */
export function slow_square(x) {
  rpool.sleep(200);
  return x * x;
}

/** Sleeps `ms` milliseconds, then returns `x ** 2` (for timeouts). */
export function slow_task(x, ms) {
  rpool.sleep(ms);
  return x * x;
}

/** `x + y + z` (`apply(compute, args=(1, 2, 3))`). */
export function compute(x, y, z) {
  return x + y + z;
}

// ---------------------------------------------------------------------------------------------
// starmap()
// ---------------------------------------------------------------------------------------------

/** `base ** exp` (`starmap(power, [(2, 3), ...])`). */
export function power(base, exp) {
  return base ** exp;
}

// ---------------------------------------------------------------------------------------------
// Initializers and per-worker state
// ---------------------------------------------------------------------------------------------

let workerData = null;

/** Initializer: stores `sharedData` for `process_item`. */
export function init_worker(sharedData) {
  workerData = sharedData;
  console.log(`worker ${rpool.env('RPOOL_WORKER_INDEX') ?? '?'}: initialized with ${sharedData}`);
}

/** `x * sharedData`, with the value that `init_worker` stored. */
export function process_item(x) {
  if (workerData === null) {
    throw new Error('init_worker was not called');
  }
  return x * workerData;
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** Fails for 3 (`Error: Cannot process 3`), otherwise `x ** 2`. */
export function risky_task(x) {
  if (x === 3) {
    throw new Error(`Cannot process ${x}`);
  }
  return x * x;
}

/** Fails for negative numbers (`Error: Negative!`), otherwise `x ** 2`. */
export function task(x) {
  if (x < 0) {
    throw new Error('Negative!');
  }
  return x * x;
}

/** `[a / b, null]`, or `[null, "division by zero"]` when `b` is 0 (exercise 3). */
export function safe_divide(a, b) {
  if (b === 0) {
    return [null, 'division by zero'];
  }
  return [a / b, null];
}

// ---------------------------------------------------------------------------------------------
// CPU-bound work
// ---------------------------------------------------------------------------------------------

/**
 * `n!` (exercise 1), exact: a BigInt, which the SDK writes as an exact JSON integer
 * (`factorial(25)` is 15511210043330985984000000, as in Python).
 */
export function factorial(n) {
  let result = 1n;
  for (let i = 2n; i <= BigInt(n); i++) {
    result *= i;
  }
  return result;
}

/**
 * The tutorial's primality test, exactly: even numbers (2 included) are not prime, then odd
 * divisors from 3 up to `int(sqrt(n) + 1)` (excluded) are tried.
 */
export function check_prime(n) {
  if (n % 2 === 0) {
    return false;
  }
  const to = Math.trunc(Math.sqrt(n) + 1);
  for (let i = 3; i < to; i += 2) {
    if (n % i === 0) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Files (needs a granted directory: --ro-dir HOST::/data)
// ---------------------------------------------------------------------------------------------

/** `[filepath, number of words in the file]`; the file must be in a granted directory. */
export function process_file(filepath) {
  const content = rpool.readTextFile(filepath);
  const words = content.split(/\s+/).filter((w) => w.length > 0).length;
  return [filepath, words];
}

// ---------------------------------------------------------------------------------------------
// For rpool's own tests
// ---------------------------------------------------------------------------------------------

let calls = 0;

/**
 * `{"item": x, "worker": RPOOL_WORKER_INDEX, "workers": RPOOL_WORKERS, "calls": N}`, where `N`
 * counts the calls this instance has served, this one included (1 on a fresh instance).
 */
export function whoami(x) {
  calls += 1;
  const env = (name) => {
    const v = rpool.env(name);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
  };
  return { item: x, worker: env('RPOOL_WORKER_INDEX'), workers: env('RPOOL_WORKERS'), calls };
}

/**
 * Aborts for 2 (`rpool.abort`: the instance ends, a trap that no `catch` can stop), otherwise
 * returns `x`. For testing the host's rebuild of an instance after a trap.
 */
export function abort_on(x) {
  if (x === 2) {
    rpool.abort(`cannot handle ${x}`);
  }
  return x;
}

/**
 * `x ** 2` after `ms` milliseconds, the asynchronous way: an async task is awaited, with timers
 * and promises working as usual.
 */
export async function async_square(x, ms) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return x * x;
}
