// {{name}}: an rpool task module in AssemblyScript, on rpool.ts (copied from
// rpool-wasm's guest-sdk/assemblyscript). Build and run it:
//   npm install && ./build.sh && rpool-wasm run {{name}}.wasm --map inputs.json
import { argsI64, fail, returnI64 } from "./rpool";

/** square(x) = x*x, for --map: the input is the argument array `[x]`. */
export function square(): i32 {
  const args = argsI64(1);
  if (args == null) return fail("square expects one integer argument");
  const x = args[0];
  // i64 multiplication wraps silently: refuse what would overflow.
  if (x > 3037000499 || x < -3037000499) return fail("square(" + x.toString() + ") overflows a 64-bit integer");
  return returnI64(x * x);
}
