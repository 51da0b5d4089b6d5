"""The multiprocessing.Pool tutorial's functions as rpool tasks, in plain Python.

Build: ``guests/python/build.sh`` (writes ``guests/python/tasks.wasm``), then for example::

    rpool-wasm run guests/python/tasks.wasm --func square --map - <<< '[1, 2, 3, 4, 5]'

Every public function defined here is a task; each receives the call's positional arguments
(``map`` passes one, ``starmap`` unpacks each item) and returns a JSON-encodable value. An
exception fails that item with Python's last traceback line, e.g. ``ValueError: Cannot process 3``.
The messages mirror the project's Rust tutorial guest (``guests/tutorial``).
"""

import math
import os
import time
from pathlib import Path

# -------------------------------------------------------------------------------------------
# map(), apply()
# -------------------------------------------------------------------------------------------


def square(x):
    """``x ** 2``."""
    return x**2


def slow_square(x):
    """Sleeps 200 ms, then returns ``x ** 2``."""
    time.sleep(0.2)
    return x**2


def slow_task(x, ms):
    """Sleeps ``ms`` milliseconds, then returns ``x ** 2`` (for timeouts)."""
    time.sleep(ms / 1000)
    return x**2


def compute(x, y, z):
    """``x + y + z`` (``apply(compute, args=(1, 2, 3))``)."""
    return x + y + z


# -------------------------------------------------------------------------------------------
# starmap()
# -------------------------------------------------------------------------------------------


def power(base, exp):
    """``base ** exp`` (``starmap(power, [(2, 3), ...])``)."""
    return base**exp


# -------------------------------------------------------------------------------------------
# Initializers and per-worker state
# -------------------------------------------------------------------------------------------

worker_data = None


def init_worker(shared_data):
    """Initializer: stores ``shared_data`` for :func:`process_item`."""
    global worker_data
    worker_data = shared_data
    print(f"worker {os.environ.get('RPOOL_WORKER_INDEX', '?')}: initialized with {shared_data}")


def process_item(x):
    """``x * shared_data``, with the value that :func:`init_worker` stored."""
    if worker_data is None:
        raise RuntimeError("init_worker was not called")
    return x * worker_data


# -------------------------------------------------------------------------------------------
# Errors
# -------------------------------------------------------------------------------------------


def risky_task(x):
    """Fails for 3 (``ValueError: Cannot process 3``), otherwise ``x ** 2``."""
    if x == 3:
        raise ValueError(f"Cannot process {x}")
    return x**2


def task(x):
    """Fails for negative numbers (``ValueError: Negative!``), otherwise ``x ** 2``."""
    if x < 0:
        raise ValueError("Negative!")
    return x**2


def safe_divide(a, b):
    """``(a / b, None)``, or ``(None, "division by zero")`` when ``b`` is 0 (exercise 3)."""
    try:
        return (a / b, None)
    except ZeroDivisionError as e:
        return (None, str(e))


# -------------------------------------------------------------------------------------------
# CPU-bound work
# -------------------------------------------------------------------------------------------


def factorial(n):
    """``n!`` (exercise 1); Python's integers have no size limit, so neither has this."""
    return math.factorial(n)


def check_prime(n):
    """The tutorial's primality test, exactly: even numbers (2 included) are not prime, then odd
    divisors from 3 up to ``int(sqrt(n) + 1)`` (excluded) are tried."""
    if n % 2 == 0:
        return False
    for i in range(3, int(math.sqrt(n) + 1), 2):
        if n % i == 0:
            return False
    return True


# -------------------------------------------------------------------------------------------
# Files (needs a granted directory: --ro-dir HOST::/data)
# -------------------------------------------------------------------------------------------


def process_file(filepath):
    """``(filepath, number of words in the file)``; the file must be in a granted directory."""
    content = Path(filepath).read_text()
    word_count = len(content.split())
    return (filepath, word_count)


# -------------------------------------------------------------------------------------------
# For rpool's own tests
# -------------------------------------------------------------------------------------------

_calls = 0


def whoami(x):
    """``{"item": x, "worker": RPOOL_WORKER_INDEX, "workers": RPOOL_WORKERS, "calls": N}``, where
    ``N`` counts the calls this instance has served, this one included (1 on a fresh instance)."""
    global _calls
    _calls += 1

    def env(name):
        value = os.environ.get(name)
        return int(value) if value is not None and value.isdigit() else None

    return {"item": x, "worker": env("RPOOL_WORKER_INDEX"), "workers": env("RPOOL_WORKERS"), "calls": _calls}


def abort_on(x):
    """Aborts for 2 (``os.abort()``: a wasm trap, which no ``except`` can catch), otherwise returns
    ``x``. For testing the host's rebuild of an instance after a trap."""
    if x == 2:
        os.abort()
    return x
