#!/bin/sh
# Builds the Zig example guest: guests/zig/build.sh OUT.wasm
# Needs Zig 0.17.1 from PyPI (`python3 -m pip install ziglang==0.17.1`), run
# as `python3 -m ziglang`; set ZIG to use another zig binary. A WASI reactor
# with no entry point, exporting the tasks (-rdynamic).
set -eu
out=${1:?usage: guests/zig/build.sh OUT.wasm}
here=$(cd "$(dirname "$0")" && pwd)
${ZIG:-python3 -m ziglang} build-exe -target wasm32-wasi -mexec-model=reactor -fno-entry -rdynamic -O ReleaseSmall \
    -femit-bin="$out" \
    --dep rpool -Mroot="$here/tasks.zig" -Mrpool="$here/../../guest-sdk/zig/rpool.zig"
