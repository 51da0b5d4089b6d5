// rpool's JavaScript guest shim: turns a module of plain exported functions into an rpool task
// component for the WIT world `rpool:task/task` (wit/rpool.wit).
//
// build.mjs writes a small entry module next to the author's file that imports it as
// `__rpool_user__` and the list of its export names in source order as `__rpool_order__`, then
// this file's body. (componentize-js maps the entry's folder as the component's `/` while it
// snapshots the module, so the entry must sit beside the author's file for its relative imports
// to resolve.) See build.mjs.
//
// What it does:
// - lists the tasks: the exported functions of the author's module whose names do not start
//   with `_`, in the order they are written (`export default` is not a task);
// - decodes each call's JSON array of positional arguments and calls `f(...args)` (fewer
//   arguments than the function declares is an error, as in Python; more are passed on);
// - encodes the return value as JSON (`undefined` is `null`);
// - turns anything thrown into the item's error message: an Error's `toString()`
//   (`Error: Cannot process 3`, `TypeError: x is not a function`), any other value as a string;
//   nothing a task throws ever traps the instance;
// - awaits a task that returns a Promise (an async function): the event loop runs its timers;
// - keeps module state between calls: what an initializer stored is seen by later calls;
// - sends console.log (stdout) to stderr, like console.error.

// `rpool`, a global for task code: what JavaScript in StarlingMonkey has no API of its own for,
// through the WASI preview 2 imports of world `task`. Usable inside task functions (not at the
// module's top level, which runs once at build time, when the component is snapshot).
//
// - rpool.env(name): the worker's environment variable `name` (RPOOL_WORKER_INDEX,
//   RPOOL_WORKERS, those passed with --env), or undefined;
// - rpool.sleep(ms): blocks for `ms` milliseconds (a real sleep, not a busy loop);
// - rpool.readTextFile(path): the UTF-8 text of the file at `path`, which must lie in a directory
//   granted with --dir/--ro-dir (its guest path, e.g. `/data/a.txt`); throws an Error such as
//   `Error: cannot read /data/x.txt: no-entry` otherwise;
// - rpool.abort(message): prints `message` to stderr and ends the instance (wasi:cli/exit with
//   status 1): the item fails as a trap that no `catch` can stop, and the worker builds a fresh
//   instance, running the initializer again (Rust's panic, Python's os.abort()).
import { getEnvironment as __rpool_getEnvironment__ } from 'wasi:cli/environment@0.2.12';
import { exit as __rpool_exit__ } from 'wasi:cli/exit@0.2.12';
import { subscribeDuration as __rpool_subscribeDuration__ } from 'wasi:clocks/monotonic-clock@0.2.12';
import { getDirectories as __rpool_getDirectories__ } from 'wasi:filesystem/preopens@0.2.12';

function __rpool_error_code__(e) {
  return e && typeof e === 'object' && 'payload' in e ? String(e.payload) : String(e);
}

globalThis.rpool = Object.freeze({
  env(name) {
    for (const [k, v] of __rpool_getEnvironment__()) {
      if (k === name) {
        return v;
      }
    }
    return undefined;
  },

  abort(message) {
    if (message !== undefined) {
      console.error(String(message));
    }
    __rpool_exit__({ tag: 'err', val: undefined });
    throw new Error('rpool.abort: exit returned');
  },

  sleep(ms) {
    const ns = BigInt(Math.max(0, Math.round(Number(ms) * 1e6)));
    __rpool_subscribeDuration__(ns).block();
  },

  readTextFile(path) {
    path = String(path);
    const fail = (why) => new Error(`cannot read ${path}: ${why}`);
    // The preopen whose guest path is the longest prefix of `path`, at a `/` boundary.
    let best = null;
    for (const [dir, guest] of __rpool_getDirectories__()) {
      const g = guest === '/' ? '' : guest.replace(/\/+$/, '');
      let rest = null;
      if (g === '.' && !path.startsWith('/')) {
        rest = path;
      } else if (path === g) {
        rest = '.';
      } else if (path.startsWith(g + '/')) {
        rest = path.slice(g.length + 1);
      }
      if (rest !== null && (best === null || g.length > best.g.length)) {
        best = { dir, g, rest };
      }
    }
    if (best === null) {
      throw fail('not in a granted directory (--dir/--ro-dir)');
    }
    let file;
    try {
      file = best.dir.openAt({ symlinkFollow: true }, best.rest.replace(/^\/+/, '') || '.', {}, { read: true });
    } catch (e) {
      throw fail(__rpool_error_code__(e));
    }
    const chunks = [];
    let total = 0;
    try {
      let offset = 0n;
      for (;;) {
        const [bytes, end] = file.read(1n << 20n, offset);
        if (bytes.length > 0) {
          chunks.push(bytes);
          total += bytes.length;
          offset += BigInt(bytes.length);
        }
        if (end || bytes.length === 0) {
          break;
        }
      }
    } catch (e) {
      throw fail(__rpool_error_code__(e));
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    return new TextDecoder().decode(all);
  },
});

const __rpool_tasks__ = new Map();
for (const name of [...__rpool_order__, ...Object.keys(__rpool_user__)]) {
  const f = __rpool_user__[name];
  if (name !== 'default' && !name.startsWith('_') && typeof f === 'function' && !__rpool_tasks__.has(name)) {
    __rpool_tasks__.set(name, f);
  }
}
const __rpool_names__ = [...__rpool_tasks__.keys()];

console.log = console.error;
console.info = console.error;
console.debug = console.error;

// What a thrown value says: `Error: message` for an Error (its toString, as Node prints the
// first line of an uncaught error), else the value itself as text.
function message(e) {
  if (e instanceof Error) {
    try {
      return String(e);
    } catch {
      return `${e.name}: ${e.message}`;
    }
  }
  if (typeof e === 'string') {
    return e;
  }
  try {
    const json = JSON.stringify(e);
    if (json !== undefined && typeof e === 'object' && e !== null) {
      return json;
    }
  } catch {
    // fall through
  }
  return String(e);
}

// JSON text of a task's result. A BigInt (which JSON.stringify refuses) is written as an exact
// JSON integer, so that `factorial(25)` is 15511210043330985984000000, as in Python.
const __rpool_BIG__ = '\u0000rpool-bigint:';
function bigintReplacer(key, value) {
  if (typeof value !== 'bigint') {
    return value;
  }
  return typeof JSON.rawJSON === 'function' ? JSON.rawJSON(value.toString()) : `${__rpool_BIG__}${value}\u0000`;
}

function encode(value) {
  let json;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    if (!(e instanceof TypeError)) {
      throw e;
    }
    json = JSON.stringify(value, bigintReplacer);
    if (typeof JSON.rawJSON !== 'function') {
      json = json.replace(/"\\u0000rpool-bigint:(-?\d+)\\u0000"/g, '$1');
    }
  }
  return json === undefined ? 'null' : json;
}

function unknown(name) {
  return `no task named '${name}' in tasks.js; tasks: ${__rpool_names__.join(', ') || '(none)'}`;
}

// One call: { tag: 'ok', val: JSON } or { tag: 'err', val: message } (or a Promise of one, for an
// async task). Never throws.
function run(name, f, text) {
  let args;
  try {
    args = JSON.parse(text);
  } catch (e) {
    return { tag: 'err', val: `the arguments of ${name} are not JSON: ${message(e)}` };
  }
  if (!Array.isArray(args)) {
    return { tag: 'err', val: `the arguments of ${name} must be a JSON array, not ${text.slice(0, 80)}` };
  }
  if (args.length < f.length) {
    // JavaScript would pass `undefined` for the missing ones; Python raises a TypeError, and
    // so does this (a `map` of a two-argument task, meant for `starmap`, fails loudly).
    return {
      tag: 'err',
      val: `TypeError: ${name}() takes ${f.length} argument${f.length === 1 ? '' : 's'}, got ${args.length}`,
    };
  }
  let result;
  try {
    result = f(...args);
  } catch (e) {
    return { tag: 'err', val: message(e) };
  }
  if (result instanceof Promise) {
    // An async task: the export's glue awaits what it is given, and the engine runs the event
    // loop (timers, promise jobs) until it settles.
    return result.then(
      (value) => done(name, value),
      (e) => ({ tag: 'err', val: message(e) }),
    );
  }
  return done(name, result);
}

function done(name, result) {
  try {
    return { tag: 'ok', val: encode(result) };
  } catch (e) {
    return { tag: 'err', val: `the result of ${name} is not JSON: ${message(e)}` };
  }
}

// The exports of world `task`. componentize-js's glue takes a `result` as a returned
// `{ tag, val }` object (or as a returned ok value / a thrown err value; returning is much
// cheaper than throwing), and awaits a returned Promise.
export function tasks() {
  return __rpool_names__;
}

export function init(name, args) {
  const f = __rpool_tasks__.get(name);
  if (f === undefined) {
    return { tag: 'err', val: unknown(name) };
  }
  const r = run(name, f, args);
  const unit = (r) => (r.tag === 'err' ? r : { tag: 'ok', val: undefined });
  return r instanceof Promise ? r.then(unit) : unit(r);
}

export function call(name, args) {
  const f = __rpool_tasks__.get(name);
  if (f === undefined) {
    return { tag: 'err', val: unknown(name) };
  }
  return run(name, f, args);
}

export function callChunk(name, items) {
  const f = __rpool_tasks__.get(name);
  if (f === undefined) {
    const err = { tag: 'err', val: unknown(name) };
    return items.map(() => err);
  }
  const out = new Array(items.length);
  let pending = false;
  for (let i = 0; i < items.length; i++) {
    const r = run(name, f, items[i]);
    out[i] = r;
    pending ||= r instanceof Promise;
  }
  return pending ? Promise.all(out) : out;
}
