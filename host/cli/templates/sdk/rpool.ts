// rpool.ts: write rpool task modules (task ABI v1, docs/abi.md) in AssemblyScript.
//
// It gives you the four `rpool` imports, `input()` (the call's input text),
// a small JSON reader for what tasks receive (arrays and numbers: `[x]`,
// `[a, b]`, `[[1, 2], 3]`), with `argsI64`/`argsF64` for the common "array of n
// numbers" case, a JSON writer for results (integers, floats, strings, null,
// arrays) with one-call `returnI64`/`returnF64`/`returnString` helpers, and
// `fail(message)`, which sets the item's error and returns 1.
//
// A task is an exported `(): i32` function:
//
//   import { argsI64, fail, returnI64 } from "../../guest-sdk/assemblyscript/rpool";
//   export function square(): i32 {
//     const args = argsI64(1);
//     if (args == null) return fail("square expects one integer argument");
//     return returnI64(args[0] * args[0]);
//   }
//
// Build with `--use abort=`: AssemblyScript imports `env.abort` otherwise,
// which the host refuses (a failed assertion then traps instead). AssemblyScript
// has no exceptions, so the reader reports errors through `ok`, not by throwing.
// guests/assemblyscript/ is a complete example with its build.sh.

@external("rpool", "input_len")
declare function input_len(): i32;
@external("rpool", "input_read")
declare function input_read(dst: usize): void;
@external("rpool", "output_write")
declare function output_write(ptr: usize, len: i32): void;
@external("rpool", "error_write")
declare function error_write(ptr: usize, len: i32): void;

/** The current call's input: UTF-8 JSON text, the array of the call's arguments. */
export function input(): string {
  const len = input_len();
  // The host copies exactly input_len() bytes and traps on an out-of-bounds
  // destination, so the room must exist before input_read.
  const buf = new ArrayBuffer(len);
  input_read(changetype<usize>(buf));
  return String.UTF8.decode(buf);
}

/** Sets the item's error message and returns 1: `return fail("Cannot process " + x.toString());` */
export function fail(message: string): i32 {
  const bytes = String.UTF8.encode(message);
  error_write(changetype<usize>(bytes), bytes.byteLength);
  return 1;
}

// ---- Reading JSON --------------------------------------------------------

function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

/**
 * A cursor over JSON text. Errors are sticky: after the first malformed token
 * every method returns a zero value and `ok` stays false, so a task can read
 * everything and check once.
 */
export class JsonReader {
  ok: bool = true;
  private pos: i32 = 0;
  // One entry per open array: whether it has not had an element yet.
  private fresh: bool[] = [];

  private text: string;

  constructor(text: string) {
    this.text = text;
  }

  private error(): bool {
    this.ok = false;
    return false;
  }

  // JSON whitespace only: the host's JSON is compact, but a task should not
  // depend on that.
  private skipWs(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  private peek(): i32 {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  /** Opens an array: consumes `[`. Then call `next()` before each element. */
  beginArray(): bool {
    if (!this.ok) return false;
    this.skipWs();
    if (this.peek() != 0x5b) return this.error();
    this.pos++;
    this.fresh.push(true);
    return true;
  }

  /**
   * Inside an array: true if another element follows (consuming the `,`
   * before it), false when the array ends (consuming the `]`) or on an error
   * (then `ok` is false).
   */
  next(): bool {
    if (!this.ok || this.fresh.length == 0) return this.error();
    this.skipWs();
    if (this.peek() == 0x5d) {
      this.pos++;
      this.fresh.pop();
      return false;
    }
    const last = this.fresh.length - 1;
    if (this.fresh[last]) {
      this.fresh[last] = false;
    } else {
      if (this.peek() != 0x2c) return this.error();
      this.pos++;
    }
    return true;
  }

  // Length of the JSON number at pos (0 if there is none), following the
  // JSON grammar exactly: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  // Sets `integral` when there is neither a fraction nor an exponent.
  private integral: bool = true;
  private numberLen(): i32 {
    const s = this.text;
    let p = this.pos;
    this.integral = true;
    if (p < s.length && s.charCodeAt(p) == 0x2d) p++;
    if (p < s.length && s.charCodeAt(p) == 0x30) {
      p++;
    } else if (p < s.length && isDigit(s.charCodeAt(p))) {
      while (p < s.length && isDigit(s.charCodeAt(p))) p++;
    } else {
      return 0;
    }
    if (p < s.length && s.charCodeAt(p) == 0x2e) {
      p++;
      if (!(p < s.length && isDigit(s.charCodeAt(p)))) return 0;
      while (p < s.length && isDigit(s.charCodeAt(p))) p++;
      this.integral = false;
    }
    if (p < s.length && (s.charCodeAt(p) | 0x20) == 0x65) {
      p++;
      if (p < s.length && (s.charCodeAt(p) == 0x2b || s.charCodeAt(p) == 0x2d)) p++;
      if (!(p < s.length && isDigit(s.charCodeAt(p)))) return 0;
      while (p < s.length && isDigit(s.charCodeAt(p))) p++;
      this.integral = false;
    }
    // `01` or `1x` is not a number followed by something else: it is not JSON.
    if (p < s.length) {
      const c = s.charCodeAt(p) | 0x20;
      if (isDigit(s.charCodeAt(p)) || (c >= 0x61 && c <= 0x7a)) return 0;
    }
    return p - this.pos;
  }

  /**
   * Reads an integer that fits in i64. A fraction or exponent (`1.5`, `1e3`)
   * or an out-of-range integer is an error, never a silent rounding.
   */
  readI64(): i64 {
    if (!this.ok) return 0;
    this.skipWs();
    const n = this.numberLen();
    if (n == 0 || !this.integral) {
      this.error();
      return 0;
    }
    let p = this.pos;
    const end = p + n;
    const neg = this.text.charCodeAt(p) == 0x2d;
    if (neg) p++;
    // Accumulate as a negative number: i64 holds -2^63 but not +2^63, so this
    // covers the whole range and catches overflow before it happens.
    let acc: i64 = 0;
    for (; p < end; p++) {
      const d = <i64>(this.text.charCodeAt(p) - 0x30);
      if (acc < (i64.MIN_VALUE + d) / 10) {
        this.error();
        return 0;
      }
      acc = acc * 10 - d;
    }
    if (!neg) {
      if (acc == i64.MIN_VALUE) {
        this.error();
        return 0;
      }
      acc = -acc;
    }
    this.pos = end;
    return acc;
  }

  /** Reads any JSON number as an f64 (integers too). */
  readF64(): f64 {
    if (!this.ok) return 0;
    this.skipWs();
    const n = this.numberLen();
    if (n == 0) {
      this.error();
      return 0;
    }
    const value = F64.parseFloat(this.text.substring(this.pos, this.pos + n));
    this.pos += n;
    return value;
  }

  /** Reads `null`. */
  readNull(): bool {
    if (!this.ok) return false;
    this.skipWs();
    if (this.text.substring(this.pos, this.pos + 4) != "null") return this.error();
    this.pos += 4;
    return true;
  }

  /** True if only whitespace is left and every array was closed. */
  end(): bool {
    if (!this.ok) return false;
    this.skipWs();
    if (this.pos != this.text.length || this.fresh.length != 0) return this.error();
    return true;
  }
}

/**
 * The call's input as an array of exactly n integers (`[x]` for n = 1,
 * `[a, b]` for n = 2), or null if it is anything else (the task then reports
 * its own error with `fail`).
 */
export function argsI64(n: i32): StaticArray<i64> | null {
  const r = new JsonReader(input());
  const out = new StaticArray<i64>(n);
  r.beginArray();
  for (let i = 0; i < n; i++) {
    if (!r.next()) return null;
    out[i] = r.readI64();
  }
  if (r.next() || !r.end()) return null;
  return out;
}

/** As `argsI64`, for an array of n numbers read as f64. */
export function argsF64(n: i32): StaticArray<f64> | null {
  const r = new JsonReader(input());
  const out = new StaticArray<f64>(n);
  r.beginArray();
  for (let i = 0; i < n; i++) {
    if (!r.next()) return null;
    out[i] = r.readF64();
  }
  if (r.next() || !r.end()) return null;
  return out;
}

// ---- Writing JSON --------------------------------------------------------

/** JSON text built piece by piece; values inside an array get their commas automatically. */
export class JsonWriter {
  private parts: string[] = [];
  // One entry per open array: whether it has not had an element yet.
  private fresh: bool[] = [];

  private separate(): void {
    const depth = this.fresh.length;
    if (depth == 0) return;
    if (this.fresh[depth - 1]) {
      this.fresh[depth - 1] = false;
    } else {
      this.parts.push(",");
    }
  }

  int(v: i64): JsonWriter {
    this.separate();
    this.parts.push(v.toString());
    return this;
  }

  /** The shortest text that reads back as v; NaN and infinities are null (JSON has neither). */
  float(v: f64): JsonWriter {
    this.separate();
    this.parts.push(isFinite(v) ? v.toString() : "null");
    return this;
  }

  /** A string, escaped: quotes, backslashes and control characters. */
  str(s: string): JsonWriter {
    this.separate();
    let text = '"';
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c == 0x22 || c == 0x5c) {
        text += "\\" + String.fromCharCode(c);
      } else if (c < 0x20) {
        text += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
      } else {
        text += String.fromCharCode(c);
      }
    }
    this.parts.push(text + '"');
    return this;
  }

  nullValue(): JsonWriter {
    this.separate();
    this.parts.push("null");
    return this;
  }

  beginArray(): JsonWriter {
    this.separate();
    this.parts.push("[");
    this.fresh.push(true);
    return this;
  }

  endArray(): JsonWriter {
    this.fresh.pop();
    this.parts.push("]");
    return this;
  }

  /** The text written so far. */
  toString(): string {
    return this.parts.join("");
  }

  /** Makes the text the call's result and returns 0 (success). */
  send(): i32 {
    if (this.fresh.length != 0) return fail("the result has an unclosed array");
    const bytes = String.UTF8.encode(this.toString());
    output_write(changetype<usize>(bytes), bytes.byteLength);
    return 0;
  }
}

/** One-call results: write the value as the call's result and return 0. */
export function returnI64(v: i64): i32 {
  return new JsonWriter().int(v).send();
}

export function returnF64(v: f64): i32 {
  return new JsonWriter().float(v).send();
}

export function returnString(s: string): i32 {
  return new JsonWriter().str(s).send();
}
