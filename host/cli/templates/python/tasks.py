"""{{name}}: an rpool task module in Python. Build and run it:

    rpool-wasm build tasks.py && rpool-wasm run tasks.wasm --map inputs.json

Every public function defined here is a task (rpool-wasm builds it into a WebAssembly
component with componentize-py); each gets its call's arguments decoded from JSON and returns a
JSON-encodable value. An exception fails that item with Python's last traceback line.
"""


def square(x):
    """x*x, for --map: each item is the call's one argument."""
    # bool is an int in Python, but not a number in JSON's sense.
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"square expects a number, got {x!r}")
    return x * x
