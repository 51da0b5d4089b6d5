"""rpool's Python guest shim: turns a module of plain functions into an rpool task component.

componentize-py builds this module (the "app") together with the author's ``tasks.py`` into a
WebAssembly component for the WIT world ``rpool:task/task`` (``wit/rpool.wit``)::

    componentize-py -d wit -w task componentize rpool_shim \
        -p guest-sdk/python -p DIR_OF_TASKS_PY -o tasks.wasm

``rpool-wasm build my_jobs.py`` runs that command with a copy of this shim, for a module of any
name: it writes a module ``rpool_task_module`` beside the shim whose ``NAME`` is the author's
module (``"my_jobs"``). Without one, the author's module is ``tasks``.

The author writes ordinary functions; this shim:

- lists the tasks: the functions defined in the author's module whose names do not start with ``_``, in the
  order they are written (or, if the module has ``__all__``, the callables it names, in its order);
- decodes each call's JSON array of positional arguments and calls ``f(*args)``;
- encodes the return value as JSON (tuples become arrays, ``None`` is ``null``);
- turns any exception into the item's error message as Python prints the last line of its
  traceback (``ValueError: Cannot process 3``), so that no exception ever traps the instance;
- keeps the module's globals between calls: an initializer's ``global`` is seen by later calls;
- sends ``print`` to stderr: stdout carries nothing of the protocol, but nothing a task prints
  should be mistaken for a result either.

Set ``RPOOL_TRACEBACK=1`` in the workers' environment (``--env RPOOL_TRACEBACK=1``) to have the
full traceback of every failing call printed to stderr as well.
"""

import importlib
import json
import os
import sys
import traceback
import types

import wit_world
from componentize_py_types import Err, Ok

# print() and anything else written to sys.stdout goes to stderr, as the host's worker wants.
sys.stdout = sys.stderr

try:
    from rpool_task_module import NAME as _MODULE  # noqa: E402  (written by `rpool-wasm build`)
except ModuleNotFoundError as e:
    if e.name != "rpool_task_module":
        raise
    _MODULE = "tasks"

# The author's module, on the path componentize-py was given (``-p``): imported while the
# component is built, as a plain ``import`` would be.
_user = importlib.import_module(_MODULE)

_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_decode = json.loads


def _task_table(module):
    """The tasks of ``module`` by name, in the author's order."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return {n: getattr(module, n) for n in names if callable(getattr(module, n, None))}
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_")
        and isinstance(value, types.FunctionType)
        and value.__module__ == module.__name__
    }


_TASKS = _task_table(_user)
_NAMES = list(_TASKS)


def _message(exc):
    """The error message of ``exc`` as Python prints it below a traceback."""
    return "".join(traceback.format_exception_only(type(exc), exc)).rstrip("\n")


def _report(exc):
    if os.environ.get("RPOOL_TRACEBACK"):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return _message(exc)


def _unknown(name):
    return f"no task named {name!r} in {_MODULE}.py; tasks: {', '.join(_NAMES) or '(none)'}"


def _run(name, f, text):
    """One call: the JSON text of the result, or raises ``Err(message)``; no other exception
    ever leaves it (one would trap the instance)."""
    try:
        args = _decode(text)
    except BaseException as e:  # noqa: BLE001
        raise Err(f"the arguments of {name} are not JSON: {e}") from None
    if type(args) is not list:
        raise Err(f"the arguments of {name} must be a JSON array, not {text[:80]}")
    try:
        result = f(*args)
    except BaseException as e:  # noqa: BLE001  (SystemExit, KeyboardInterrupt: an item's error too)
        raise Err(_report(e)) from None
    try:
        return _encode(result)
    except BaseException as e:  # noqa: BLE001
        raise Err(f"the result of {name} is not JSON: {_message(e)}") from None


class WitWorld(wit_world.WitWorld):
    """The exports of world ``task``; see ``wit/rpool.wit`` for their contract."""

    def tasks(self):
        return list(_NAMES)

    def init(self, name, args):
        f = _TASKS.get(name)
        if f is None:
            raise Err(_unknown(name))
        _run(name, f, args)

    def call(self, name, args):
        f = _TASKS.get(name)
        if f is None:
            raise Err(_unknown(name))
        return _run(name, f, args)

    def call_chunk(self, name, items):
        f = _TASKS.get(name)
        if f is None:
            return [Err(_unknown(name)) for _ in items]
        out = []
        append = out.append
        for text in items:
            try:
                append(Ok(_run(name, f, text)))
            except Err as e:
                append(e)
        return out
