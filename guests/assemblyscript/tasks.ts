// Example rpool task module in AssemblyScript, on guest-sdk/assemblyscript/rpool.ts:
// the tasks of the Python Pool tutorial. Build it with
// `guests/assemblyscript/build.sh OUT.wasm` (after `npm ci` here), then e.g.
//   echo '[1,2,3]' | rpool-wasm run OUT.wasm --func square --map -
//   echo '[[2,3],[3,4]]' | rpool-wasm run OUT.wasm --func power --starmap -
//   echo '[1,2,3]' | rpool-wasm run OUT.wasm --func process_item --init init_worker --init-args '[10]' --map -
import { argsI64, fail, returnI64 } from "../../guest-sdk/assemblyscript/rpool";

// Whether a * b overflows i64. AssemblyScript's i64 multiply wraps silently,
// and a wrapped result would be a wrong answer rather than an error.
function mulOverflows(a: i64, b: i64): bool {
  if (a == 0 || b == 0) return false;
  // MIN / -1 would trap, and MIN * -1 is the one product of -1 that overflows.
  if (b == -1) return a == i64.MIN_VALUE;
  if (a == -1) return b == i64.MIN_VALUE;
  return (a * b) / b != a;
}

/** square(x) = x*x, for map: the input is `[x]`. */
export function square(): i32 {
  const args = argsI64(1);
  if (args == null) return fail("square expects one integer argument");
  const x = args[0];
  if (mulOverflows(x, x)) return fail("square(" + x.toString() + ") overflows a 64-bit integer");
  return returnI64(x * x);
}

/** power(base, exp) = base^exp, for starmap: the input is the item `[base, exp]`. */
export function power(): i32 {
  const args = argsI64(2);
  if (args == null) return fail("power expects two integer arguments");
  let base = args[0];
  let exp = args[1];
  if (exp < 0) return fail("power expects a non-negative exponent, got " + exp.toString());
  // Square-and-multiply, checking every product.
  let result: i64 = 1;
  while (exp > 0) {
    if (exp & 1) {
      if (mulOverflows(result, base)) return powerOverflows(args[0], args[1]);
      result *= base;
    }
    exp >>= 1;
    if (exp > 0) {
      if (mulOverflows(base, base)) return powerOverflows(args[0], args[1]);
      base *= base;
    }
  }
  return returnI64(result);
}

function powerOverflows(base: i64, exp: i64): i32 {
  return fail("power(" + base.toString() + ", " + exp.toString() + ") overflows a 64-bit integer");
}

// Per-worker state, set by the initializer: like a Python worker's globals, it
// lives as long as this instance and is set again after every rebuild.
let factor: i64 = 0;
let haveFactor = false;

/** The initializer: `--init init_worker --init-args '[factor]'`. */
export function init_worker(): i32 {
  const args = argsI64(1);
  if (args == null) return fail("init_worker expects one integer argument (the factor)");
  factor = args[0];
  haveFactor = true;
  return 0;
}

/** process_item(x) = x * factor, with the factor from init_worker. */
export function process_item(): i32 {
  if (!haveFactor) return fail("process_item needs the initializer: --init init_worker --init-args '[factor]'");
  const args = argsI64(1);
  if (args == null) return fail("process_item expects one integer argument");
  const x = args[0];
  if (mulOverflows(x, factor)) return fail("process_item(" + x.toString() + ") overflows a 64-bit integer");
  return returnI64(x * factor);
}

/** risky_task(x) = x*x, but fails for 3: shows how one item's error is reported. */
export function risky_task(): i32 {
  const args = argsI64(1);
  if (args == null) return fail("risky_task expects one integer argument");
  const x = args[0];
  if (x == 3) return fail("Cannot process " + x.toString());
  if (mulOverflows(x, x)) return fail("risky_task(" + x.toString() + ") overflows a 64-bit integer");
  return returnI64(x * x);
}
