#!/bin/sh
# Builds the C example guest: guests/c/build.sh OUT.wasm
# A WASI reactor (no main; _initialize runs wasi-libc's constructors) built
# with Debian's clang and wasi-libc:
#   apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32
# CC may name another clang, e.g. wasi-sdk's (add its --sysroot to CFLAGS).
set -eu
out=${1:?usage: guests/c/build.sh OUT.wasm}
here=$(cd "$(dirname "$0")" && pwd)
${CC:-clang} --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra -Werror ${CFLAGS:-} \
    -I "$here/../../guest-sdk/c" -o "$out" "$here/tasks.c"
