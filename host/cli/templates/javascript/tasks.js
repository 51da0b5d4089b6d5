// {{name}}: an rpool task module in JavaScript. Build and run it:
//
//   npm install && rpool-wasm build tasks.js && rpool-wasm run tasks.wasm --map inputs.json
//
// Every exported function is a task (rpool-wasm builds it into a WebAssembly component with
// componentize-js); each gets its call's arguments decoded from JSON and returns a
// JSON-encodable value. Anything thrown fails that item with its toString().

/** x*x, for --map: each item is the call's one argument. */
export function square(x) {
  if (typeof x !== 'number') {
    throw new TypeError(`square expects a number, got ${JSON.stringify(x)}`);
  }
  const result = x * x;
  // JavaScript's numbers are doubles: past 2^53 an integer result would silently lose digits.
  if (Number.isInteger(x) && !Number.isSafeInteger(result)) {
    throw new RangeError(`square(${x}) is past 2^53, where doubles lose digits`);
  }
  return result;
}
