#!/bin/sh
# Builds {{name}}.wasm (or OUT.wasm): ./build.sh [OUT.wasm]
# Needs Zig 0.17.1 (`python3 -m pip install ziglang==0.17.1`), run as
# `python3 -m ziglang`; set ZIG to use another zig binary. A WASI reactor
# with no entry point, exporting the tasks (-rdynamic).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/{{name}}.wasm}
${ZIG:-python3 -m ziglang} build-exe -target wasm32-wasi -mexec-model=reactor -fno-entry -rdynamic -O ReleaseSmall \
    -femit-bin="$out" \
    --dep rpool -Mroot="$here/task.zig" -Mrpool="$here/rpool.zig"
