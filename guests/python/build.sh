#!/bin/sh
# Builds the Python example guest into a component: guests/python/build.sh [OUT.wasm]
# (default: tasks.wasm next to this script).
# Needs componentize-py 0.25.1 (pip install componentize-py==0.25.1; it bundles CPython and
# works offline). The component is for the world `task` of wit/rpool.wit; the app module is
# the SDK's shim (guest-sdk/python/rpool_shim.py), which imports this folder's tasks.py.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/tasks.wasm}
root=$here/../..
exec "${COMPONENTIZE_PY:-componentize-py}" -d "$root/wit" -w task componentize rpool_shim \
    -p "$root/guest-sdk/python" -p "$here" -o "$out"
