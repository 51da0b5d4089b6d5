"""What every workload of the benchmark suite shares: running and timing one command (with its
peak memory), comparing outputs, writing inputs, formatting times. Standard library only."""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
# The tutorial's check_prime numbers (W3, W5, L1).
PRIMES = [112272535095295, 100109100129100369, 100109100129101027, 100109100129100151, 100109100129162907]
PRIMES_EXPECTED = [False, False, False, True, True]
# --quick: the same shape (composite, composite, composite, prime, prime), far less work.
QUICK_PRIMES = [112272535095295, 99999999999999, 100000000000001, 100000000000031, 100000000000067]

def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def die(msg: str) -> None:
    log(f"\nbench: FAILED: {msg}")
    sys.exit(1)


def sh(cmd: list[str], **kw) -> str:
    """Runs a setup command; its output on failure."""
    log("$ " + " ".join(str(c) for c in cmd))
    proc = subprocess.run(cmd, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    if proc.returncode != 0:
        die(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout[-4000:]}")
    return proc.stdout


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def read_hwm(pid: int) -> int | None:
    """Peak resident set size (VmHWM) of a live process, in bytes."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def descendants(pid: int) -> set[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


class MemorySampler(threading.Thread):
    """Polls VmHWM of a process and of its descendants while it runs."""

    def __init__(self, pid: int, interval: float = 0.02):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.host = 0
        self.children: dict[int, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            hwm = read_hwm(self.pid)
            if hwm is not None:
                self.host = max(self.host, hwm)
            for child in descendants(self.pid):
                hwm = read_hwm(child)
                if hwm is not None:
                    self.children[child] = max(self.children.get(child, 0), hwm)
            self.stop.wait(self.interval)


class Runner:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.count = 0

    def run(self, cmd: list[str], env: dict | None = None, memory: bool = False) -> dict:
        """Runs cmd (stdout into a file) and returns {seconds, out: Path, [host_rss, worker_rss]}."""
        self.count += 1
        out = self.tmp / f"out-{self.count}.txt"
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(out, "wb") as stdout, open(self.tmp / "stderr.txt", "wb+") as stderr:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, env=full_env)
            sampler = None
            if memory:
                sampler = MemorySampler(proc.pid)
                sampler.start()
            rc = proc.wait()
            seconds = time.perf_counter() - start
            if sampler:
                sampler.stop.set()
                sampler.join()
            stderr.seek(0)
            err = stderr.read().decode(errors="replace")
        if rc != 0:
            die(f"`{' '.join(map(str, cmd))}` exited {rc}:\n{err[-3000:]}")
        result = {"seconds": seconds, "out": out}
        if sampler:
            result["host_rss"] = sampler.host
            result["worker_rss"] = max(sampler.children.values(), default=0)
            result["processes"] = 1 + len(sampler.children)
        return result


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def same_output(ref: Path, other: Path, imap: bool) -> bool:
    """Byte-identical, or failing that the same JSON values (whole array, or line by line)."""
    if ref.stat().st_size == other.stat().st_size and sha256(ref) == sha256(other):
        return True
    if not imap:
        try:
            return json.loads(ref.read_bytes()) == json.loads(other.read_bytes())
        except ValueError:
            return False
    with open(ref, "rb") as a, open(other, "rb") as b:
        while True:
            la, lb = a.readline(), b.readline()
            if not la and not lb:
                return True
            if not la or not lb:
                return False
            try:
                if json.loads(la) != json.loads(lb):
                    return False
            except ValueError:
                return False


def describe_mismatch(ref: Path, other: Path) -> str:
    a, b = ref.read_bytes()[:300], other.read_bytes()[:300]
    return f"rpool-wasm's output begins {a!r}\n  the peer's output begins {b!r}"


def summary(times: list[float]) -> dict:
    return {"times": times, "median": statistics.median(times), "min": min(times), "max": max(times),
            "reps": len(times)}


def write_inputs(path: Path, items: list) -> Path:
    with open(path, "w") as f:
        json.dump(items, f, separators=(",", ":"))
    return path


def write_range(path: Path, n: int) -> Path:
    """[0,1,…,n-1] as a JSON file, written in blocks (10M items is ~78 MB)."""
    with open(path, "w") as f:
        f.write("[")
        step = 100_000
        for start in range(0, n, step):
            if start:
                f.write(",")
            f.write(",".join(map(str, range(start, min(n, start + step)))))
        f.write("]")
    return path


def check(key: str, tool: str, reference: Path, out: Path, imap: bool) -> None:
    if not same_output(reference, out, imap):
        die(f"{key}: {tool}'s output differs from rpool-wasm's:\n  {describe_mismatch(reference, out)}")


def fmt_s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def interleaved(ctx, key: str, cmds: dict[str, tuple[list[str], dict | None]], reps: int,
                reference: Path | None = None, imap: bool = False) -> tuple[dict, Path]:
    """Runs each (command, environment) once untimed, then `reps` times interleaved, so that drift in the
    machine's load hits every command alike. Every output is checked against `reference`, or, if none is
    given, against the first command's untimed output (kept as ctx["references"][key]).
    Returns ({name: summary}, reference)."""
    runner = ctx["runner"]
    for name, (cmd, env) in cmds.items():
        out = runner.run(cmd, env)["out"]
        if reference is None:
            reference = out.replace(out.with_name(f"reference-{key}.txt"))
            ctx["references"][key] = reference
        else:
            check(key, name, reference, out, imap)
            out.unlink()
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for rep in range(reps):
        for name, (cmd, env) in cmds.items():
            r = runner.run(cmd, env)
            check(key, name, reference, r["out"], imap)
            r["out"].unlink()
            times[name].append(r["seconds"])
        log(f"[{key}] rep {rep + 1}/{reps}: " + ", ".join(f"{n} {times[n][-1]:.3f}s" for n in cmds))
    return {name: summary(t) | {"verified": True} for name, t in times.items()}, reference
