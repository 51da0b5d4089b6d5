/*
 * {{name}}: an rpool task module in C, on rpool.h (copied from rpool-wasm's
 * guest-sdk/c). Build and run it:
 *   ./build.sh && rpool-wasm run {{name}}.wasm --map inputs.json
 */
#include "rpool.h"

/* square(x) = x*x, for --map: the input is the argument array `[x]`. */
RPOOL_TASK(square) {
    int64_t x, result;
    if (!rpool_args_i64(&x, 1)) return rpool_fail("square expects one integer argument");
    if (__builtin_mul_overflow(x, x, &result)) return rpool_fail("square(%lld) overflows a 64-bit integer", (long long)x);
    return rpool_return_i64(result);
}
