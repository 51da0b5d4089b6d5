/*
 * Example rpool task module in C, on guest-sdk/c/rpool.h: the tasks of the
 * Python Pool tutorial. Build it with `guests/c/build.sh OUT.wasm`, then e.g.
 *   echo '[1,2,3]' | rpool-wasm run OUT.wasm --func square --map -
 *   echo '[[2,3],[3,4]]' | rpool-wasm run OUT.wasm --func power --starmap -
 *   echo '[1,2,3]' | rpool-wasm run OUT.wasm --func process_item --init init_worker --init-args '[10]' --map -
 */
#include "rpool.h"

/* square(x) = x*x, for map: the input is `[x]`. */
RPOOL_TASK(square) {
    int64_t x, result;
    if (!rpool_args_i64(&x, 1)) return rpool_fail("square expects one integer argument");
    /* Overflow is an error, not a wrapped (wrong) number. */
    if (__builtin_mul_overflow(x, x, &result)) return rpool_fail("square(%lld) overflows a 64-bit integer", (long long)x);
    return rpool_return_i64(result);
}

/* power(base, exp) = base^exp, for starmap: the input is the item `[base, exp]`. */
RPOOL_TASK(power) {
    int64_t args[2];
    if (!rpool_args_i64(args, 2)) return rpool_fail("power expects two integer arguments");
    int64_t base = args[0], exp = args[1], result = 1;
    if (exp < 0) return rpool_fail("power expects a non-negative exponent, got %lld", (long long)exp);
    /* Square-and-multiply, checking every product. */
    while (exp > 0) {
        if ((exp & 1) && __builtin_mul_overflow(result, base, &result)) goto overflow;
        exp >>= 1;
        if (exp > 0 && __builtin_mul_overflow(base, base, &base)) goto overflow;
    }
    return rpool_return_i64(result);
overflow:
    return rpool_fail("power(%lld, %lld) overflows a 64-bit integer", (long long)args[0], (long long)args[1]);
}

/* Per-worker state, set by the initializer: like a Python worker's globals,
 * it lives as long as this instance and is set again after every rebuild. */
static int64_t factor;
static int have_factor;

/* The initializer: `--init init_worker --init-args '[factor]'`. */
RPOOL_TASK(init_worker) {
    if (!rpool_args_i64(&factor, 1)) return rpool_fail("init_worker expects one integer argument (the factor)");
    have_factor = 1;
    return 0;
}

/* process_item(x) = x * factor, with the factor from init_worker. */
RPOOL_TASK(process_item) {
    int64_t x, result;
    if (!have_factor) return rpool_fail("process_item needs the initializer: --init init_worker --init-args '[factor]'");
    if (!rpool_args_i64(&x, 1)) return rpool_fail("process_item expects one integer argument");
    if (__builtin_mul_overflow(x, factor, &result))
        return rpool_fail("process_item(%lld) overflows a 64-bit integer", (long long)x);
    return rpool_return_i64(result);
}

/* risky_task(x) = x*x, but fails for 3: shows how one item's error is reported. */
RPOOL_TASK(risky_task) {
    int64_t x, result;
    if (!rpool_args_i64(&x, 1)) return rpool_fail("risky_task expects one integer argument");
    if (x == 3) return rpool_fail("Cannot process %lld", (long long)x);
    if (__builtin_mul_overflow(x, x, &result))
        return rpool_fail("risky_task(%lld) overflows a 64-bit integer", (long long)x);
    return rpool_return_i64(result);
}

/* A checked halving that traps on an odd number: deliberately a trap (not
 * an error) inside a helper, so that a trap's message shows where it was:
 * `… at checked_half ← halve`. */
__attribute__((noinline)) static int64_t checked_half(int64_t x) {
    if (x % 2 != 0) __builtin_trap();
    return x / 2;
}

RPOOL_TASK(halve) {
    int64_t x;
    if (!rpool_args_i64(&x, 1)) return rpool_fail("halve expects one integer argument");
    return rpool_return_i64(checked_half(x));
}
