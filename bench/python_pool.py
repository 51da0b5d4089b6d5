#!/usr/bin/env python3
"""The Python peer of the rpool-wasm benchmarks: multiprocessing.Pool with the same functions.

    python3 bench/python_pool.py FUNC (--map F | --starmap F | --imap F) [-w N] [--chunksize N] [--module FILE.py]

Reads the JSON array in F ('-': stdin), runs pool.map / pool.starmap / pool.imap with FUNC
(pure Python, exactly as the tutorial writes it) on N worker processes, and prints the same
JSON as `rpool-wasm run`: the compact array of results for map/starmap, one compact JSON
result per line for imap. Without --chunksize, map/starmap use Python's own default
(ceil(n / (4 x workers))) and imap its default of 1. The start method is the platform default
(fork on Linux), what a user of the tutorial gets. With --module, FUNC comes from that file
(the suite passes guests/python/tasks.py, the very functions the Python component runs).
"""

import argparse
import importlib.util
import json
import math
import os
import sys
from multiprocessing import Pool


def square(x):
    return x**2


def check_prime(n):
    if n % 2 == 0:
        return False
    for i in range(3, int(math.sqrt(n)) + 1, 2):
        if n % i == 0:
            return False
    return True


def power(base, exp):
    return base**exp


FUNCS = {"square": square, "check_prime": check_prime, "power": power}


def load_module(path):
    """The module at `path`, imported under its file name, so that the pool's workers (forked, or
    spawned and re-importing it from sys.modules' file) find its functions by name."""
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("func", help=f"one of {', '.join(sorted(FUNCS))}, or a function of --module")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--map", metavar="F")
    mode.add_argument("--starmap", metavar="F")
    mode.add_argument("--imap", metavar="F")
    parser.add_argument("-w", "--workers", type=int, default=None)
    parser.add_argument("--chunksize", type=int, default=None)
    parser.add_argument("--module", metavar="FILE.py",
                        help="take FUNC from this Python file (the same tasks.py a Python component is built from)")
    args = parser.parse_args()

    path = args.map or args.starmap or args.imap
    if path == "-":
        items = json.load(sys.stdin)
    else:
        with open(path, "rb") as f:
            items = json.load(f)
    funcs = FUNCS if args.module is None else vars(load_module(args.module))
    func = funcs.get(args.func)
    if not callable(func):
        parser.error(f"no function {args.func!r} in {args.module or 'this file'}")
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    out = sys.stdout

    with Pool(args.workers) as pool:
        if args.imap is not None:
            write = out.write
            for result in pool.imap(func, items, args.chunksize or 1):
                write(dumps(result))
                write("\n")
        else:
            if args.map is not None:
                results = pool.map(func, items, args.chunksize)
            else:
                results = pool.starmap(func, items, args.chunksize)
            out.write(dumps(results))
            out.write("\n")
    out.flush()


if __name__ == "__main__":
    main()
