#!/usr/bin/env node
// The benchmark suite's Node.js peer: a pool of N worker threads running the functions of an ES
// module (the same tasks.js the JavaScript component is built from), as multiprocessing.Pool runs
// Python functions:
//
//   node bench/node_pool.mjs MODULE.js FUNC (--map|--starmap) INPUTS.json [-w N] [--chunksize N]
//
// The items are handed out in chunks (default: Python's ceil(n / (4 × workers))), each worker
// thread takes the next chunk when it has finished one, and the results are printed as one JSON
// array in input order, as `rpool-wasm run --map` prints them.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

if (isMainThread) {
  const args = process.argv.slice(2);
  const usage = 'usage: node_pool.mjs MODULE.js FUNC (--map|--starmap) INPUTS.json [-w N] [--chunksize N]';
  const [modulePath, func, modeFlag, inputsPath] = args;
  let workers = availableParallelism();
  let chunksize = 0;
  for (let i = 4; i < args.length; i += 2) {
    if (args[i] === '-w') workers = Number(args[i + 1]);
    else if (args[i] === '--chunksize') chunksize = Number(args[i + 1]);
    else throw new Error(usage);
  }
  if (!inputsPath || !['--map', '--starmap'].includes(modeFlag) || !(workers >= 1)) throw new Error(usage);
  const items = JSON.parse(readFileSync(inputsPath, 'utf8'));
  chunksize ||= Math.max(1, Math.ceil(items.length / (4 * workers)));
  const results = new Array(items.length);
  let next = 0;
  let pending = items.length;
  const threads = [];
  const done = new Promise((resolve, reject) => {
    if (pending === 0) resolve();
    const feed = (worker) => {
      if (next >= items.length) return worker.postMessage(null);
      const start = next;
      next = Math.min(items.length, next + chunksize);
      worker.postMessage({ start, items: items.slice(start, next) });
    };
    for (let w = 0; w < Math.min(workers, Math.max(1, Math.ceil(items.length / chunksize))); w++) {
      const worker = new Worker(new URL(import.meta.url), {
        workerData: { module: pathToFileURL(modulePath).href, func, spread: modeFlag === '--starmap' },
      });
      worker.on('message', ({ start, out }) => {
        for (let i = 0; i < out.length; i++) results[start + i] = out[i];
        pending -= out.length;
        if (pending === 0) resolve();
        feed(worker);
      });
      worker.on('error', reject);
      threads.push(worker);
      feed(worker);
    }
  });
  await done;
  await Promise.all(threads.map((t) => t.terminate()));
  process.stdout.write(JSON.stringify(results) + '\n');
} else {
  const { module, func, spread } = workerData;
  const f = (await import(module))[func];
  if (typeof f !== 'function') throw new Error(`${module} exports no function ${func}`);
  parentPort.on('message', (chunk) => {
    if (chunk === null) return parentPort.close();
    const out = chunk.items.map((item) => (spread ? f(...item) : f(item)));
    parentPort.postMessage({ start: chunk.start, out });
  });
}
