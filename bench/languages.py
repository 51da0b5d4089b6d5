"""Language workloads (issue 12): Python and JavaScript tasks as WebAssembly components, side by side with
the same functions on their own runtimes' pools.

The components are built from the example guests (guests/python/tasks.py with componentize-py,
guests/javascript/tasks.js with componentize-js) once per run of the suite; the peers import the very same
files: CPython's multiprocessing.Pool through bench/python_pool.py --module, and Node's worker threads through
bench/node_pool.mjs.

L1  Python check_prime over the tutorial's five numbers, 2 workers. Target: within 2× of CPython's Pool.
L2  Python square over 100,000 integers, 2 workers, default chunksize; and each tool's peak memory.
L3  JavaScript check_prime over five numbers below 2^53 (JavaScript's numbers are doubles), 2 workers.
L4  JavaScript square over 100,000 integers, 2 workers, default chunksize; and peak memory.
L5  Start-up: square over 10 integers, 2 workers: each component with a warm compiled-module cache and with a
    cold one (a fresh empty cache, so the 10–20 MB component is compiled), CPython's Pool, Node's threads.
    Target: a warm Python pool of 2 within 150 ms.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from common import (MIB, PRIMES, PRIMES_EXPECTED, QUICK_PRIMES, ROOT, check, die, fmt_s, interleaved, log, sh,
                    summary, write_inputs, write_range)

PY_TASKS = ROOT / "guests" / "python" / "tasks.py"
JS_TASKS = ROOT / "guests" / "javascript" / "tasks.js"
NODE_POOL = ROOT / "bench" / "node_pool.mjs"
WORKERS = 2
# Below 2^53, so that JavaScript's doubles hold them exactly: composite, composite, composite, prime, prime.
JS_PRIMES = [112272535095295, 99999999999999, 100000000000001, 100000000000031, 100000000000067]
JS_QUICK_PRIMES = [1122725350953, 999999999999, 1000000000001, 1000000000039, 1000000000061]


def components(ctx) -> dict[str, Path]:
    """The Python and JavaScript components, built once per run of the suite by `rpool-wasm build` (JavaScript's
    componentize-js from the checkout's guest-sdk/javascript: `npm ci --prefix guest-sdk/javascript`)."""
    if "components" not in ctx:
        out = ctx["tmp"] / "components"
        out.mkdir()
        built = {}
        for lang, source in [("python", PY_TASKS), ("javascript", JS_TASKS)]:
            built[lang] = out / f"{lang}.wasm"
            sh([str(ctx["rpool"]), "build", str(source), "-o", str(built[lang])],
               env=dict(os.environ, RPOOL_COMPONENTIZE_JS=str(ROOT / "guest-sdk" / "javascript")))
        ctx["components"] = built
    return ctx["components"]


def commands(ctx, func: str, inputs: Path, extra: list[str], langs: list[str]) -> dict:
    """{name: (command, env)}: rpool-wasm on each language's component, then each language's own pool."""
    comps = components(ctx)
    rpool_env = ctx["peers"].rpool_env()
    cmds = {}
    for lang in langs:
        cmds[f"rpool-wasm ({lang})"] = ([str(ctx["rpool"]), "run", str(comps[lang]), "--func", func, "--map",
                                         str(inputs), "-w", str(WORKERS), *extra], rpool_env)
    for lang in langs:
        if lang == "python":
            cmds["CPython Pool"] = ([ctx["python"], str(ROOT / "bench" / "python_pool.py"), func, "--module",
                                     str(PY_TASKS), "--map", str(inputs), "-w", str(WORKERS), *extra], None)
        else:
            cmds["Node worker threads"] = (["node", str(NODE_POOL), str(JS_TASKS), func, "--map", str(inputs),
                                            "-w", str(WORKERS), *extra], None)
    return cmds


def peak_memory(ctx, key: str, cmds: dict) -> dict:
    """One more run of each command, its peak RSS sampled: {name: {host_rss, worker_rss, processes}}."""
    mem = {}
    for name, (cmd, env) in cmds.items():
        r = ctx["runner"].run(cmd, env, memory=True)
        r["out"].unlink()
        mem[name] = {k: r[k] for k in ("host_rss", "worker_rss", "processes")}
        log(f"[{key}] {name}: host {r['host_rss'] / MIB:.0f} MiB, largest worker {r['worker_rss'] / MIB:.0f} MiB")
    return mem


def comparison_table(tools: dict, base: str, memory: dict | None = None) -> dict:
    header = ["tool", "median", "min", "max", "reps", f"÷ {base}"]
    if memory:
        header += ["peak RSS, host process", "peak RSS, largest worker"]
    rows = []
    for name, t in tools.items():
        row = [name, fmt_s(t["median"]), fmt_s(t["min"]), fmt_s(t["max"]), str(t["reps"]),
               "—" if name == base else f"{t['median'] / tools[base]['median']:.2f}×"]
        if memory:
            m = memory[name]
            row += [f"{m['host_rss'] / MIB:.1f} MiB",
                    f"{m['worker_rss'] / MIB:.1f} MiB" if m["worker_rss"] else "(threads)"]
        rows.append(row)
    return {"header": header, "align": ["l"] + ["r"] * (len(header) - 1), "rows": rows}


MEMORY_NOTE = ("Peak RSS: VmHWM of the process started and of its largest child process (a worker), from one more "
               "run of each command with /proc polled every 20 ms. Node's workers are threads of its one process. "
               "CPython's workers are forked after the inputs are read, so their VmHWM counts pages shared with the "
               "parent.")


def prime_check(ctx, key: str, lang: str, primes: list[int]) -> dict:
    inputs = write_inputs(ctx["tmp"] / f"{key.lower()}.json", primes)
    cmds = commands(ctx, "check_prime", inputs, [], [lang])
    tools, reference = interleaved(ctx, key, cmds, ctx["reps"](key))
    got = json.loads(reference.read_bytes())
    if got != PRIMES_EXPECTED:
        die(f"{key}: rpool-wasm gave {got}, expected {PRIMES_EXPECTED}")
    names = list(tools)
    return {"params": {"items": primes, "workers": WORKERS, "chunksize": None, "func": "check_prime", "results": got},
            "tools": tools, "table": comparison_table(tools, names[1]), "ratio": tools[names[0]]["median"] /
            tools[names[1]]["median"]}


def l1(ctx):
    primes = QUICK_PRIMES if ctx["quick"] else PRIMES
    w = prime_check(ctx, "L1", "python", primes)
    r = w.pop("ratio")
    return w | {
        "title": f"L1 Python, CPU-bound: check_prime over {primes}, {WORKERS} workers (tasks.py as a component "
                 "against CPython's Pool running the same tasks.py)",
        "targets": [{"workload": "L1", "target": "the Python prime check within 2× of CPython's Pool",
                     "measured": f"{r:.2f}× CPython's time", "met": r <= 2}],
    }


def squares(ctx, key: str, lang: str) -> dict:
    n = 10_000 if ctx["quick"] else 100_000
    inputs = write_range(ctx["tmp"] / f"{key.lower()}.json", n)
    cmds = commands(ctx, "square", inputs, [], [lang])
    tools, _ = interleaved(ctx, key, cmds, ctx["reps"](key))
    memory = peak_memory(ctx, key, cmds)
    names = list(tools)
    return {"params": {"items": n, "workers": WORKERS, "chunksize": None, "func": "square"},
            "tools": tools, "memory": memory, "table": comparison_table(tools, names[1], memory),
            "notes": [MEMORY_NOTE], "n": n}


def l2(ctx):
    w = squares(ctx, "L2", "python")
    return w | {"title": f"L2 Python, tiny items: square over {w.pop('n'):,} integers, {WORKERS} workers, default "
                         "chunksize, and peak memory"}


def l3(ctx):
    primes = JS_QUICK_PRIMES if ctx["quick"] else JS_PRIMES
    w = prime_check(ctx, "L3", "javascript", primes)
    w.pop("ratio")
    return w | {"title": f"L3 JavaScript, CPU-bound: check_prime over {primes}, {WORKERS} workers (tasks.js as a "
                         "component against Node's worker threads running the same tasks.js)",
                "notes": ["componentize-js runs SpiderMonkey compiled to WebAssembly, an interpreter without a JIT; "
                          "Node compiles the loop to machine code."]}


def l4(ctx):
    w = squares(ctx, "L4", "javascript")
    return w | {"title": f"L4 JavaScript, tiny items: square over {w.pop('n'):,} integers, {WORKERS} workers, "
                         "default chunksize, and peak memory"}


def l5(ctx):
    reps = ctx["reps"]("L5")
    cold_reps = max(1, min(3, reps))
    inputs = write_inputs(ctx["tmp"] / "l5.json", list(range(10)))
    warm = commands(ctx, "square", inputs, [], ["python", "javascript"])
    tools, reference = interleaved(ctx, "L5", warm, reps)
    comps = components(ctx)
    cold: dict = {}
    for lang in ["python", "javascript"]:
        times = []
        for rep in range(cold_reps):
            cache = ctx["tmp"] / f"l5-cold-{lang}-{rep}"
            cache.mkdir()
            cmd = [str(ctx["rpool"]), "run", str(comps[lang]), "--func", "square", "--map", str(inputs),
                   "-w", str(WORKERS)]
            r = ctx["runner"].run(cmd, ctx["peers"].rpool_env(cache))
            check("L5", f"rpool-wasm ({lang}, cold cache)", reference, r["out"], False)
            r["out"].unlink()
            shutil.rmtree(cache)
            times.append(r["seconds"])
            log(f"[L5] {lang} cold cache rep {rep + 1}/{cold_reps}: {r['seconds']:.2f}s")
        cold[f"rpool-wasm ({lang}, cold cache)"] = summary(times) | {"verified": True}
    ordered = {}
    for lang in ["python", "javascript"]:
        ordered[f"rpool-wasm ({lang}, warm cache)"] = tools.pop(f"rpool-wasm ({lang})")
        ordered[f"rpool-wasm ({lang}, cold cache)"] = cold[f"rpool-wasm ({lang}, cold cache)"]
    ordered |= tools
    warm_py = ordered["rpool-wasm (python, warm cache)"]["median"]
    return {
        "title": f"L5 start-up: square over 10 integers, {WORKERS} workers; each component with a warm "
                 "compiled-module cache and a cold one (a fresh empty cache directory each rep)",
        "params": {"items": 10, "workers": WORKERS, "func": "square", "cold_reps": cold_reps},
        "tools": ordered,
        "table": comparison_table(ordered, "CPython Pool"),
        "notes": [f"Warm reps: {reps}; cold reps: {cold_reps} (each compiles the whole component: CPython or "
                  "SpiderMonkey with the tasks, into a new cache)."],
        "targets": [{"workload": "L5", "target": "warm start-up of a Python pool of 2 within 150 ms",
                     "measured": fmt_s(warm_py), "met": warm_py <= 0.150}],
    }


WORKLOADS = {"L1": l1, "L2": l2, "L3": l3, "L4": l4, "L5": l5}
DEFAULT_REPS = {"L1": 3, "L2": 5, "L3": 3, "L4": 5, "L5": 10}
QUICK_REPS = {"L1": 1, "L2": 1, "L3": 1, "L4": 1, "L5": 2}
