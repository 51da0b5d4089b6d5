#!/bin/sh
# Builds {{name}}.wasm (or OUT.wasm): ./build.sh [OUT.wasm]
# A WASI reactor (no main; _initialize runs wasi-libc's constructors), built
# with clang and wasi-libc:
#   apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32
# CC may name another clang, e.g. wasi-sdk's (add its --sysroot to CFLAGS).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/{{name}}.wasm}
${CC:-clang} --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra ${CFLAGS:-} \
    -I "$here" -o "$out" "$here/task.c"
