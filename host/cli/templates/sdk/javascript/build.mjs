#!/usr/bin/env node
// Builds an rpool task component from a JavaScript module of plain exported functions:
//
//   node guest-sdk/javascript/build.mjs TASKS.js OUT.wasm
//
// Needs this folder's pinned componentize-js: `npm ci --prefix guest-sdk/javascript` first.
// The component is for the world `task` of wit/rpool.wit (found at ../../wit from this file, or
// at $RPOOL_WIT). The entry module is rpool_shim.js, preceded by an import of TASKS.js; it is
// written next to TASKS.js under a hidden name for the build and removed afterwards.
import { readFile, writeFile, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { componentize } from '@bytecodealliance/componentize-js';
import { init as lexerInit, parse } from 'es-module-lexer';

const here = dirname(fileURLToPath(import.meta.url));
const [source, out] = process.argv.slice(2);
if (!source || !out) {
  console.error('usage: node build.mjs TASKS.js OUT.wasm');
  process.exit(2);
}
const sourcePath = resolve(source);
const witPath = resolve(process.env.RPOOL_WIT ?? join(here, '..', '..', 'wit'));

// The author's export names in the order they are written (a module namespace lists them
// alphabetically), so that `tasks` lists them as written.
await lexerInit;
const [, exports] = parse(await readFile(sourcePath, 'utf8'), sourcePath);
const order = exports.map((e) => e.n).filter((n) => n && n !== 'default');

const entryPath = join(dirname(sourcePath), `.rpool-entry-${process.pid}.js`);
const entry =
  `import * as __rpool_user__ from './${basename(sourcePath)}';\n` +
  `const __rpool_order__ = ${JSON.stringify(order)};\n` +
  (await readFile(join(here, 'rpool_shim.js'), 'utf8'));
await writeFile(entryPath, entry);
try {
  const { component } = await componentize({
    sourcePath: entryPath,
    witPath,
    worldName: 'task',
    // No fetch() and no HTTP handler: the host provides WASI preview 2's CLI, I/O, clocks,
    // random and filesystem, never wasi:http.
    disableFeatures: ['http', 'fetch-event'],
  });
  await writeFile(out, component);
  console.error(`build.mjs: wrote ${out} (${component.length} bytes)`);
} finally {
  await rm(entryPath, { force: true });
}
