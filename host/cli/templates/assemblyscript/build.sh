#!/bin/sh
# Builds {{name}}.wasm (or OUT.wasm): ./build.sh [OUT.wasm]
# Needs the compiler: `npm install` here first (or set ASC to an asc).
# `--use abort=` drops the `env.abort` import that the host would refuse (a
# failed assertion traps instead); the only imports left are `rpool`'s.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/{{name}}.wasm}
asc=${ASC:-$here/node_modules/.bin/asc}
if [ ! -x "$asc" ]; then
    echo "build.sh: $asc is missing; run: npm install --prefix $here" >&2
    exit 1
fi
"$asc" "$here/task.ts" --outFile "$out" -O3 --use abort=
