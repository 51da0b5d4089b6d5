#!/usr/bin/env python3
"""rpool-wasm benchmark suite (issues 4, 11, 12, 13): rpool-wasm side by side with its peers, on one machine.

    python3 bench/run.py [--quick] [--reps N] [--only W1,W3] [--no-build] [--out FILE] [--json FILE]

Every measurement is a whole process: spawn the command, time its wall clock until it exits,
output into a file. The peers, all run in the same run on the same machine:

  rpool-wasm  target/release/rpool-wasm run on the example guests (guests/)
  python      bench/python_pool.py: multiprocessing.Pool, the same functions in pure Python
  native      bench/native: the same functions in Rust, rayon on a pool of exactly N threads
  wasmtime    `wasmtime run` once per item (a shell loop), only if a wasmtime CLI is on PATH

W1–W6 are the pool against these peers (here); C1–C2 the cluster through a real nats-server against
the local pool (cluster.py); L1–L5 Python and JavaScript components against CPython's Pool and
Node's worker threads running the same source files (languages.py). common.py holds what they share.

Every peer's output is checked against rpool-wasm's (the same JSON); a mismatch aborts the run.
Writes BENCHMARKS.md (repo root) and bench/results.json (every rep's time). A --quick or
--only run writes them to a temporary directory instead (printed), unless --out/--json say
otherwise, so a smoke test never overwrites the full report. Standard library only; the memory
workload (W6) reads /proc (Linux).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cluster
import languages
from common import (MIB, PRIMES, PRIMES_EXPECTED, QUICK_PRIMES, ROOT, Runner, check, describe_mismatch, die, fmt_s,
                    interleaved, loadavg, log, sh, sha256, summary, write_inputs, write_range)

BENCH = ROOT / "bench"
RPOOL = ROOT / "target" / "release" / "rpool-wasm"
GUESTS = ROOT / "guests" / "target" / "wasm32-wasip1" / "release"
SQUARE_WASM = GUESTS / "square.wasm"
TUTORIAL_WASM = GUESTS / "tutorial.wasm"
NATIVE_DIR = BENCH / "native"
NATIVE = NATIVE_DIR / "target" / "release" / "rpool-bench-native"
WASI_ITEM = NATIVE_DIR / "target" / "wasm32-wasip1" / "release" / "rpool-bench-wasi-item.wasm"
PYTHON_POOL = BENCH / "python_pool.py"

TOOLS = ["rpool-wasm", "python", "native", "wasmtime"]
PEERS = ["python", "native", "wasmtime"]


# ------------------------------------------------------------------------------------------------
# Setup
# ------------------------------------------------------------------------------------------------


def build(wasmtime: str | None, no_build: bool) -> None:
    if not no_build:
        sh(["cargo", "build", "--release", "-p", "rpool-wasm"])
        sh(["cargo", "build", "--release", "--target", "wasm32-wasip1", "--manifest-path", "guests/Cargo.toml"])
        sh(["cargo", "build", "--release", "--manifest-path", "bench/native/Cargo.toml"])
        if wasmtime:
            sh(["cargo", "build", "--release", "--target", "wasm32-wasip1",
                "--manifest-path", "bench/wasi-item/Cargo.toml", "--target-dir", "bench/native/target"])
    needed = [RPOOL, SQUARE_WASM, TUTORIAL_WASM, NATIVE] + ([WASI_ITEM] if wasmtime else [])
    for path in needed:
        if not path.exists():
            die(f"{path} is missing (run without --no-build)")


def cmd_out(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info(wasmtime: str | None) -> dict:
    info: dict = {}
    try:
        info["nproc"] = len(os.sched_getaffinity(0))
    except AttributeError:
        info["nproc"] = os.cpu_count()
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["cpu"] = cpu or platform.processor() or platform.machine()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    os_name = platform.system()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    info["os"] = f"{os_name}, kernel {platform.release()} ({platform.machine()})"
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info["rustc"] = cmd_out(["rustc", "-V"])
    info["python"] = f"Python {platform.python_version()} ({sys.executable})"
    info["wasmtime"] = cmd_out([wasmtime, "--version"]) if wasmtime else "not installed"
    commit = cmd_out(["git", "rev-parse", "HEAD"])
    dirty = cmd_out(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"])
    info["git_commit"] = (commit or "unknown") + (" (with uncommitted changes)" if dirty else "")
    info["loadavg_start"] = loadavg()
    return info


# ------------------------------------------------------------------------------------------------
# Running and timing one command
# ------------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------------
# The peers
# ------------------------------------------------------------------------------------------------


class Peers:
    def __init__(self, runner: Runner, tmp: Path, wasmtime: str | None, python: str):
        self.runner, self.tmp, self.wasmtime, self.python = runner, tmp, wasmtime, python
        self.cache = tmp / "rpool-cache"  # warm after the first run of each module
        self.cache.mkdir()

    def snapshot(self) -> None:
        """Runs a private copy of the rpool-wasm binary (its own worker program too), so that a rebuild of
        target/release while the suite runs cannot change the binary between reps."""
        global RPOOL
        copy = self.tmp / "bin" / "rpool-wasm"
        copy.parent.mkdir()
        shutil.copy2(RPOOL, copy)
        RPOOL = copy

    def command(self, tool: str, func: str, mode: str, inputs: Path, workers: int, chunksize: int | None,
                wasm: Path = TUTORIAL_WASM) -> list[str]:
        chunk = [] if chunksize is None else ["--chunksize", str(chunksize)]
        if tool == "rpool-wasm":
            return [str(RPOOL), "run", str(wasm), "--func", func, f"--{mode}", str(inputs), "-w", str(workers), *chunk]
        if tool == "python":
            return [self.python, str(PYTHON_POOL), func, f"--{mode}", str(inputs), "-w", str(workers), *chunk]
        if tool == "native":
            return [str(NATIVE), func, f"--{mode}", str(inputs), "-w", str(workers), *chunk]
        raise ValueError(tool)

    def rpool_env(self, cache: Path | None = None) -> dict:
        return {"RPOOL_WASM_CACHE_DIR": str(cache or self.cache)}

    def wasmtime_loop(self, func: str, items: list) -> dict:
        """`wasmtime run` once per item, one after another (a shell loop); the JSON array of results."""
        out = self.tmp / "wasmtime-out.json"
        start = time.perf_counter()
        results = []
        for item in items:
            proc = subprocess.run([self.wasmtime, "run", str(WASI_ITEM), func, str(item)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                die(f"wasmtime run {WASI_ITEM.name} {func} {item} exited {proc.returncode}: {proc.stderr[-2000:]!r}")
            results.append(proc.stdout.strip().decode())
        seconds = time.perf_counter() - start
        out.write_text("[" + ",".join(results) + "]\n")
        return {"seconds": seconds, "out": out}


def timed_comparison(ctx, key: str, func: str, mode: str, inputs: Path, items_for_wasmtime, workers: int,
                     chunksize: int | None, reps: int, wasm: Path = TUTORIAL_WASM,
                     wasmtime_sample: int | None = None, n_items: int = 0) -> dict:
    """Runs rpool-wasm and each peer `reps` times (interleaved, after one untimed warm-up run
    each, which also fills rpool-wasm's compiled-module cache), checks every output against
    rpool-wasm's, and returns {tool: summary}."""
    peers: Peers = ctx["peers"]
    cmds = {t: (peers.command(t, func, mode, inputs, workers, chunksize, wasm),
                peers.rpool_env() if t == "rpool-wasm" else None) for t in ["rpool-wasm", "python", "native"]}
    log(f"[{key}] warm-up runs")
    tools, reference = interleaved(ctx, key, cmds, reps, imap=mode == "imap")
    results = dict(tools)
    results["wasmtime"] = wasmtime_column(ctx, key, func, items_for_wasmtime, reference, reps, wasmtime_sample, n_items)
    return results


def wasmtime_column(ctx, key, func, items, reference: Path, reps: int, sample: int | None, n_items: int) -> dict:
    peers: Peers = ctx["peers"]
    if not peers.wasmtime:
        return {"status": "not installed"}
    if items is None:
        return {"status": "not run"}
    ref = json.loads(reference.read_bytes())
    run_items = items if sample is None else items[:sample]
    times = []
    for rep in range(reps):
        r = peers.wasmtime_loop(func, run_items)
        got = json.loads(r["out"].read_bytes())
        if got != ref[: len(run_items)]:
            die(f"{key}: wasmtime's output differs from rpool-wasm's:\n  {describe_mismatch(reference, r['out'])}")
        seconds = r["seconds"] if sample is None else r["seconds"] / len(run_items) * n_items
        times.append(seconds)
        log(f"[{key}] wasmtime rep {rep + 1}/{reps}: {seconds:.3f}s" + (" (extrapolated)" if sample else ""))
    result = summary(times) | {"verified": True}
    if sample is not None:
        result["extrapolated_from_items"] = len(run_items)
    return result


# ------------------------------------------------------------------------------------------------
# Workloads
# ------------------------------------------------------------------------------------------------


def w1(ctx):
    n = 100_000 if ctx["quick"] else 1_000_000
    inputs = write_range(ctx["tmp"] / "w1.json", n)
    tools = timed_comparison(ctx, "W1", "square", "map", inputs, list(range(n)), 2, None, ctx["reps"]("W1"),
                             wasm=SQUARE_WASM, wasmtime_sample=ctx["wasmtime_sample"], n_items=n)
    return {"title": f"W1 tiny items: square over {n:,} integers, 2 workers, default chunksize "
                     f"(ceil(n / (4 × workers)) = {-(-n // 8):,})",
            "params": {"items": n, "workers": 2, "chunksize": None, "func": "square", "module": "square.wasm"},
            "tools": tools}


def w2(ctx):
    n = 10_000 if ctx["quick"] else 100_000
    inputs = write_range(ctx["tmp"] / "w2.json", n)
    tools = timed_comparison(ctx, "W2", "square", "map", inputs, list(range(n)), 2, 1, ctx["reps"]("W2"),
                             wasm=SQUARE_WASM, wasmtime_sample=ctx["wasmtime_sample"], n_items=n)
    return {"title": f"W2 per-item overhead: square over {n:,} integers, 2 workers, chunksize 1",
            "params": {"items": n, "workers": 2, "chunksize": 1, "func": "square", "module": "square.wasm"},
            "tools": tools}


def w3(ctx):
    primes = QUICK_PRIMES if ctx["quick"] else PRIMES
    inputs = write_inputs(ctx["tmp"] / "w3.json", primes)
    tools = timed_comparison(ctx, "W3", "check_prime", "map", inputs, primes, 2, None, ctx["reps"]("W3"))
    got = json.loads(ctx["references"]["W3"].read_bytes())
    if not ctx["quick"] and got != PRIMES_EXPECTED:
        die(f"W3: rpool-wasm gave {got}, expected {PRIMES_EXPECTED}")
    return {"title": f"W3 CPU-bound: check_prime over {primes}, 2 workers, default chunksize (1)",
            "params": {"items": primes, "workers": 2, "chunksize": None, "func": "check_prime",
                       "module": "tutorial.wasm", "results": got},
            "tools": tools}


def w4(ctx):
    peers: Peers = ctx["peers"]
    runner: Runner = ctx["runner"]
    reps = ctx["reps"]("W4")
    items = list(range(10))
    inputs = write_inputs(ctx["tmp"] / "w4.json", items)
    warm_cache = ctx["tmp"] / "w4-warm-cache"
    warm_cache.mkdir()
    rpool = peers.command("rpool-wasm", "square", "map", inputs, 2, None, SQUARE_WASM)
    cmds = {
        "rpool-wasm (warm cache)": (rpool, peers.rpool_env(warm_cache)),
        "rpool-wasm (cold cache)": (rpool, None),
        "python": (peers.command("python", "square", "map", inputs, 2, None), None),
        "native": (peers.command("native", "square", "map", inputs, 2, None), None),
    }
    log("[W4] warm-up runs (the first fills the warm cache)")
    reference = runner.run(rpool, peers.rpool_env(warm_cache))["out"]
    for name, (cmd, env) in cmds.items():
        if "cold" in name:
            continue
        r = runner.run(cmd, env)
        check("W4", name, reference, r["out"], False)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for rep in range(reps):
        for name, (cmd, env) in cmds.items():
            if "cold" in name:
                cold = Path(tempfile.mkdtemp(prefix="cold-cache-", dir=ctx["tmp"]))
                env = peers.rpool_env(cold)
            r = runner.run(cmd, env)
            check("W4", name, reference, r["out"], False)
            r["out"].unlink()
            times[name].append(r["seconds"])
            if "cold" in name:
                if not any(cold.iterdir()):
                    die("W4: the cold-cache run left nothing in its cache directory: is RPOOL_WASM_CACHE_DIR honoured?")
                shutil.rmtree(cold)
        log(f"[W4] rep {rep + 1}/{reps}: " + ", ".join(f"{t} {times[t][-1] * 1000:.1f}ms" for t in cmds))
    tools = {name: summary(v) | {"verified": True} for name, v in times.items()}
    tools["wasmtime"] = wasmtime_column(ctx, "W4", "square", items, reference, reps, None, len(items))
    return {"title": "W4 start-up: square over 10 integers, 2 workers; rpool-wasm with a warm compiled-module "
                     "cache (pre-populated by one run) and a cold one (a fresh empty cache directory each rep)",
            "params": {"items": 10, "workers": 2, "func": "square", "module": "square.wasm"},
            "tools": tools}


def w5(ctx):
    peers: Peers = ctx["peers"]
    runner: Runner = ctx["runner"]
    reps = ctx["reps"]("W5")
    nproc = ctx["machine"]["nproc"]
    base = QUICK_PRIMES if ctx["quick"] else PRIMES
    copies = 2 if ctx["quick"] else max(8, nproc)
    items = base * copies
    inputs = write_inputs(ctx["tmp"] / "w5.json", items)
    counts = list(range(1, nproc + 1)) if nproc <= 8 else sorted({1, 2, 4, 8, 16, 32, 64, 128, nproc} & set(range(1, nproc + 1)))
    log("[W5] warm-up run")
    reference = runner.run(peers.command("rpool-wasm", "check_prime", "map", inputs, nproc, 1), peers.rpool_env())["out"]
    by_tool: dict[str, dict] = {"rpool-wasm": {}, "native": {}}
    for workers in counts:
        cmds = {t: peers.command(t, "check_prime", "map", inputs, workers, 1) for t in by_tool}
        times: dict[str, list[float]] = {t: [] for t in cmds}
        for rep in range(reps):
            for tool, cmd in cmds.items():
                r = runner.run(cmd, peers.rpool_env() if tool == "rpool-wasm" else None)
                check("W5", f"{tool} -w {workers}", reference, r["out"], False)
                r["out"].unlink()
                times[tool].append(r["seconds"])
            log(f"[W5] {workers} workers, rep {rep + 1}/{reps}: " + ", ".join(f"{t} {times[t][-1]:.3f}s" for t in cmds))
        for tool in cmds:
            by_tool[tool][str(workers)] = summary(times[tool]) | {"verified": True}
    for tool, rows in by_tool.items():
        t1 = rows["1"]["median"]
        for workers, row in rows.items():
            row["speedup"] = t1 / row["median"]
            row["efficiency"] = row["speedup"] / int(workers)
    return {"title": f"W5 scaling: check_prime over {copies} copies of the W3 numbers ({len(items)} items, "
                     f"{2 * copies} of them large primes), chunksize 1, 1…{nproc} workers (rpool-wasm and native)",
            "params": {"items": len(items), "copies": copies, "chunksize": 1, "workers": counts,
                       "func": "check_prime", "module": "tutorial.wasm"},
            "scaling": by_tool}


def w6(ctx):
    peers: Peers = ctx["peers"]
    runner: Runner = ctx["runner"]
    reps = ctx["reps"]("W6")
    big = 200_000 if ctx["quick"] else 10_000_000
    small = big // 10
    chunksize = 1000
    if not Path("/proc/self/status").exists():
        return {"title": "W6 memory", "skipped": "needs Linux /proc"}
    sizes = {}
    for n, n_reps in [(small, 1), (big, reps)]:
        log(f"[W6] generating a {n:,}-item input")
        inputs = write_range(ctx["tmp"] / f"w6-{n}.json", n)
        cmds = {t: peers.command(t, "square", "imap", inputs, 2, chunksize, SQUARE_WASM) for t in ["rpool-wasm", "python", "native"]}
        reference = None
        rows: dict[str, list[dict]] = {t: [] for t in cmds}
        for rep in range(n_reps):
            for tool, cmd in cmds.items():
                r = runner.run(cmd, peers.rpool_env() if tool == "rpool-wasm" else None, memory=True)
                if reference is None:
                    reference = r["out"].replace(r["out"].with_name(f"reference-W6-{n}.txt"))
                else:
                    check(f"W6 ({n:,} items)", tool, reference, r["out"], True)
                    r["out"].unlink()
                rows[tool].append({k: r[k] for k in ("seconds", "host_rss", "worker_rss", "processes")})
            log(f"[W6] {n:,} items, rep {rep + 1}/{n_reps}: " + ", ".join(
                f"{t} {rows[t][-1]['seconds']:.2f}s host {rows[t][-1]['host_rss'] / MIB:.0f} MiB "
                f"worker {rows[t][-1]['worker_rss'] / MIB:.0f} MiB" for t in cmds))
        reference.unlink()
        (ctx["tmp"] / f"w6-{n}.json").unlink()
        sizes[str(n)] = {
            tool: summary([r["seconds"] for r in rs]) | {
                "host_rss_max": max(r["host_rss"] for r in rs),
                "worker_rss_max": max(r["worker_rss"] for r in rs),
                "host_rss": [r["host_rss"] for r in rs],
                "worker_rss": [r["worker_rss"] for r in rs],
                "verified": True,
            } for tool, rs in rows.items()}
    return {"title": f"W6 memory: --imap square over {big:,} integers (and {small:,}, to see whether memory "
                     f"grows with the input), 2 workers, chunksize {chunksize} for every tool",
            "params": {"items": [small, big], "workers": 2, "chunksize": chunksize, "func": "square",
                       "module": "square.wasm", "rss": "peak VmHWM from /proc/<pid>/status, polled every 20 ms"},
            "sizes": sizes}


# W: the pool against its peers (issues 4 and 13); C: the cluster (bench/cluster.py, issue 11);
# L: Python and JavaScript components (bench/languages.py, issue 12).
WORKLOADS = {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5, "W6": w6} | cluster.WORKLOADS | languages.WORKLOADS
# Reps when --reps is not given: 5, fewer for the slow workloads, more for the tiny start-up one.
DEFAULT_REPS = ({"W1": 5, "W2": 5, "W3": 5, "W4": 10, "W5": 3, "W6": 3} | cluster.DEFAULT_REPS
                | languages.DEFAULT_REPS)
QUICK_REPS = {"W1": 2, "W2": 2, "W3": 2, "W4": 3, "W5": 1, "W6": 1} | cluster.QUICK_REPS | languages.QUICK_REPS


# ------------------------------------------------------------------------------------------------
# Targets and the report
# ------------------------------------------------------------------------------------------------


def med(w: dict, tool: str) -> float | None:
    t = w.get("tools", {}).get(tool, {})
    return t.get("median")


def targets(results: dict) -> list[dict]:
    rows = []
    wl = results["workloads"]

    def ratio(key, peer):
        w = wl.get(key)
        if not w:
            return None
        a, b = med(w, "rpool-wasm"), med(w, peer)
        return None if a is None or b is None else b / a

    def add(key, target, measured, met):
        rows.append({"workload": key, "target": target, "measured": measured, "met": met})

    def vs_python(r):
        return f"{r:.2f}× faster than Python" if r >= 1 else f"{1 / r:.2f}× slower than Python"

    for key, factor, native in [("W1", 8, 1.3), ("W2", 10, 3)]:
        if key in wl:
            r = ratio(key, "python")
            add(key, f"≥ {factor}× faster than Python", vs_python(r), r >= factor)
            n = ratio(key, "native")
            add(key, f"within {native}× of native rayon (issue 13)", f"{1 / n:.2f}× native's time", 1 / n <= native)
    if "W3" in wl:
        r = ratio("W3", "python")
        add("W3", "≥ 15× faster than Python", vs_python(r), r >= 15)
        n = ratio("W3", "native")
        add("W3", "within 1.10× of native rayon", f"{1 / n:.2f}× native's time", 1 / n <= 1.10)
    if "W4" in wl:
        t = med(wl["W4"], "rpool-wasm (warm cache)")
        add("W4", "≤ 15 ms with a warm cache", f"{t * 1000:.1f} ms", t <= 0.015)
        add("W4", "≤ 4 ms with a warm cache (issue 13)", f"{t * 1000:.1f} ms", t <= 0.004)
    if "W5" in wl:
        rows_ = wl["W5"]["scaling"]["rpool-wasm"]
        if "2" in rows_:
            s = rows_["2"]["speedup"]
            native = wl["W5"]["scaling"].get("native", {}).get("2")
            machine = f"; native rayon on the same run: {native['speedup']:.2f}×" if native else ""
            add("W5", "≥ 1.9× speed-up at 2 workers", f"{s:.2f}× ({s / 2:.0%} efficiency{machine})", s >= 1.9)
    if "W6" in wl and "sizes" in wl["W6"]:
        sizes = wl["W6"]["sizes"]
        small, big = sorted(sizes, key=int)
        hs, hb = sizes[small]["rpool-wasm"]["host_rss_max"], sizes[big]["rpool-wasm"]["host_rss_max"]
        add("W6", "host RSS flat, ≤ 64 MiB",
            f"{hb / MIB:.0f} MiB at {int(big):,} items ({hs / MIB:.0f} MiB at {int(small):,})",
            hb <= 64 * MIB and hb <= max(hs * 1.25, hs + 8 * MIB))
    # The cluster and language workloads state their own targets.
    for w in wl.values():
        rows += w.get("targets", [])
    return rows


def fmt_ratio(peer: float, rpool: float) -> str:
    r = peer / rpool
    return f"{r:.2f}× (rpool-wasm faster)" if r >= 1 else f"{r:.2f}× (rpool-wasm {1 / r:.2f}× slower)"


def tool_table(w: dict) -> list[str]:
    tools = w["tools"]
    rpool_key = next(k for k in tools if k.startswith("rpool-wasm"))
    base = tools[rpool_key]["median"]
    lines = ["| tool | median | min | max | reps | peer ÷ rpool-wasm |", "|---|---:|---:|---:|---:|---|"]
    for name, t in tools.items():
        if "median" not in t:
            lines.append(f"| {name} | {t.get('status', 'n/a')} | | | | |")
            continue
        est = f" (est. from {t['extrapolated_from_items']:,} items)" if "extrapolated_from_items" in t else ""
        rel = "—" if name.startswith("rpool-wasm") else fmt_ratio(t["median"], base)
        lines.append(f"| {name}{est} | {fmt_s(t['median'])} | {fmt_s(t['min'])} | {fmt_s(t['max'])} | {t['reps']} | {rel} |")
    return lines


def table(t: dict) -> list[str]:
    """A workload's own table: {"header": [...], "align": ["l"|"r", ...], "rows": [[...], ...]}."""
    lines = ["| " + " | ".join(t["header"]) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in t["align"]) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in t["rows"]]


def report(results: dict) -> str:
    m = results["machine"]
    out = ["# rpool-wasm benchmarks", "",
           "Generated by `python3 bench/run.py`" + (" --quick" if results["config"]["quick"] else "") +
           " (see [bench/README.md](bench/README.md)); raw numbers, every rep, in "
           "[bench/results.json](bench/results.json). Every time is the wall clock of a whole process "
           "(spawn to exit, reading the inputs file and writing the results included), the median of the reps; "
           "all tools ran side by side, interleaved rep by rep, in one run on this machine. Every peer's output "
           "was checked to be the same JSON as rpool-wasm's. \"peer ÷ rpool-wasm\" above 1 means rpool-wasm "
           "is faster.", "",
           "## Machine", "",
           "| | |", "|---|---|",
           f"| CPUs (`nproc`) | {m['nproc']} |",
           f"| CPU | {m['cpu']} |",
           f"| memory | {m.get('memory_gib', '?')} GiB |",
           f"| OS | {m['os']} |",
           f"| date | {m['date']} |",
           f"| rustc | {m['rustc']} |",
           f"| python | {m['python']} |",
           f"| wasmtime CLI | {m['wasmtime']} |",
           f"| git commit | {m['git_commit']} |",
           f"| rpool-wasm binary | {m.get('rpool_wasm_binary', '?')} (a copy of it ran, so that rebuilds during the run change nothing) |",
           f"| load average (1, 5, 15 min) | {m['loadavg_start']} at the start, {m.get('loadavg_end', '?')} at the end |",
           "",
           "Peers: **rpool-wasm** (`target/release/rpool-wasm run` on `guests/`' square.wasm / tutorial.wasm, "
           "compiled-module cache warm unless stated); **python** (`bench/python_pool.py`, "
           "`multiprocessing.Pool` with the same functions in pure Python, same workers and chunksize); "
           "**native** (`bench/native`, the same functions in Rust on a rayon pool of the same number of threads); "
           "**wasmtime** (`wasmtime run` once per item, one after another, as a shell loop does).", ""]
    tr = results.get("targets", [])
    if tr:
        out += ["## Targets (issues 4, 11, 12 and 13)", "", "| workload | target | measured (medians) | |", "|---|---|---|---|"]
        for t in tr:
            out.append(f"| {t['workload']} | {t['target']} | {t['measured']} | {'met' if t['met'] else '**not met**'} |")
        out.append("")
    for key, w in results["workloads"].items():
        out += [f"## {w['title']}", ""]
        if "skipped" in w:
            out += [f"Skipped: {w['skipped']}.", ""]
        elif "table" in w:
            out += table(w["table"]) + [""] + [line for note in w.get("notes", []) for line in (note, "")]
        elif "tools" in w:
            out += tool_table(w) + [""]
        elif "scaling" in w:
            sc = w["scaling"]
            tools = list(sc)
            header = "| workers | " + " | ".join(f"{t} median | {t} speed-up | {t} efficiency" for t in tools) + " |"
            out += [header, "|---:|" + "---:|" * (3 * len(tools))]
            for workers in sc[tools[0]]:
                cells = []
                for t in tools:
                    r = sc[t][workers]
                    cells += [fmt_s(r["median"]), f"{r['speedup']:.2f}×", f"{r['efficiency']:.0%}"]
                out.append(f"| {workers} | " + " | ".join(cells) + " |")
            out += ["", f"Reps per point: {sc[tools[0]]['1']['reps']}. Efficiency = speed-up ÷ workers; "
                    "native's column shows what the machine itself allows. (Python is left out of W5: "
                    "pure-Python check_prime over these numbers takes minutes per point.)", ""]
        elif "sizes" in w:
            out += ["| items | tool | median time | reps | peak RSS, host process | peak RSS, largest worker |",
                    "|---:|---|---:|---:|---:|---:|"]
            for n, tools in sorted(w["sizes"].items(), key=lambda kv: int(kv[0])):
                for name, t in tools.items():
                    worker = f"{t['worker_rss_max'] / MIB:.1f} MiB" if t["worker_rss_max"] else "(threads)"
                    out.append(f"| {int(n):,} | {name} | {fmt_s(t['median'])} | {t['reps']} | "
                               f"{t['host_rss_max'] / MIB:.1f} MiB | {worker} |")
            out += ["", "Peak RSS is each process's VmHWM (`/proc/<pid>/status`), polled every 20 ms while the "
                    "command runs; \"host\" is the process started (rpool-wasm's parent, Python's main process), "
                    "\"worker\" the largest of its child processes. native has no worker processes (threads). "
                    "native's `--imap` prints after computing all results (it is a peer for time and memory, "
                    "not a streaming implementation). Python's workers are forked after the inputs are loaded, so "
                    "their VmHWM counts the parent's pages they share copy-on-write.", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description="rpool-wasm benchmark suite: rpool-wasm vs multiprocessing.Pool, "
                                                 "native rayon and wasmtime run, side by side.")
    parser.add_argument("--quick", action="store_true", help="a smoke test: fewer items and reps (about a minute)")
    parser.add_argument("--reps", type=int, help="reps for every workload (default: "
                        + ", ".join(f"{k} {v}" for k, v in DEFAULT_REPS.items()) + ")")
    parser.add_argument("--only", help="comma-separated workloads to run, e.g. W1,W3")
    parser.add_argument("--no-build", action="store_true", help="do not run cargo build first")
    parser.add_argument("--out", type=Path, help="the Markdown report (default BENCHMARKS.md for a full run)")
    parser.add_argument("--json", type=Path, help="the raw results (default bench/results.json for a full run)")
    parser.add_argument("--wasmtime-sample", type=int, default=200,
                        help="W1/W2: items run by the wasmtime loop, the rest extrapolated (default 200)")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary directory")
    parser.add_argument("--from-json", type=Path, metavar="RESULTS",
                        help="run nothing: rewrite the Markdown report (--out, default BENCHMARKS.md) from a results.json")
    args = parser.parse_args()

    if args.from_json:
        results = json.loads(args.from_json.read_text())
        results["targets"] = targets(results)
        out_path = args.out or ROOT / "BENCHMARKS.md"
        out_path.write_text(report(results) + "\n")
        args.from_json.write_text(json.dumps(results, indent=1, default=str) + "\n")
        log(f"wrote {out_path} (and the targets into {args.from_json})")
        return

    only = list(WORKLOADS)
    if args.only:
        only = [w.strip().upper() for w in args.only.split(",") if w.strip()]
        unknown = [w for w in only if w not in WORKLOADS]
        if unknown:
            parser.error(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    if args.reps is not None and args.reps < 1:
        parser.error("--reps must be at least 1")
    partial = args.quick or args.only
    tmp = Path(tempfile.mkdtemp(prefix="rpool-bench-"))
    out_path = args.out or (tmp / "BENCHMARKS.md" if partial else ROOT / "BENCHMARKS.md")
    json_path = args.json or (tmp / "results.json" if partial else BENCH / "results.json")
    if partial and (args.out is None or args.json is None):
        keep = True
    else:
        keep = args.keep_temp

    wasmtime = shutil.which("wasmtime")
    start = time.perf_counter()
    build(wasmtime, args.no_build)
    machine = machine_info(wasmtime)
    log(f"machine: {machine}")
    runner = Runner(tmp)
    reps_table = QUICK_REPS if args.quick else DEFAULT_REPS
    ctx = {
        "tmp": tmp,
        "quick": args.quick,
        "machine": machine,
        "runner": runner,
        "peers": Peers(runner, tmp, wasmtime, sys.executable),
        "reps": lambda key: args.reps if args.reps is not None else reps_table[key],
        "wasmtime_sample": 20 if args.quick else args.wasmtime_sample,
        "references": {},
    }
    ctx["peers"].snapshot()
    ctx |= {"rpool": RPOOL, "python": sys.executable, "tutorial_wasm": TUTORIAL_WASM, "square_wasm": SQUARE_WASM}
    machine["rpool_wasm_binary"] = f"sha256 {sha256(RPOOL)[:16]}…, built " + datetime.datetime.fromtimestamp(
        (ROOT / "target" / "release" / "rpool-wasm").stat().st_mtime, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    results = {"machine": machine,
               "config": {"quick": args.quick, "reps": {k: ctx["reps"](k) for k in only}, "workloads": only},
               "workloads": {}}
    try:
        for key in only:
            t0 = time.perf_counter()
            results["workloads"][key] = WORKLOADS[key](ctx)
            log(f"[{key}] done in {time.perf_counter() - t0:.0f}s (load average {loadavg()})")
            results["workloads"][key]["loadavg_after"] = loadavg()
    finally:
        for ref in ctx["references"].values():
            if ref.exists():
                ref.unlink()
    results["machine"]["loadavg_end"] = loadavg()
    results["targets"] = targets(results)
    results["config"]["total_seconds"] = round(time.perf_counter() - start, 1)

    markdown = report(results)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(markdown + "\n")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(markdown)
    log(f"\nwrote {out_path} and {json_path} ({results['config']['total_seconds']:.0f}s in all)")
    if keep:
        # Only the report is worth keeping; drop the large inputs.
        for p in tmp.iterdir():
            if p not in (out_path, json_path):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    not_met = [t for t in results["targets"] if not t["met"]]
    if not_met:
        log("targets not met: " + "; ".join(f"{t['workload']} {t['target']} (measured {t['measured']})" for t in not_met))


if __name__ == "__main__":
    main()
