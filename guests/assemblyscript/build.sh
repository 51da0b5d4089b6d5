#!/bin/sh
# Builds the AssemblyScript example guest: guests/assemblyscript/build.sh OUT.wasm
# Needs the pinned compiler: `npm ci` in guests/assemblyscript first.
# `--use abort=` drops the `env.abort` import that the host would refuse (a
# failed assertion traps instead); the only imports left are `rpool`'s.
set -eu
out=${1:?usage: guests/assemblyscript/build.sh OUT.wasm}
here=$(cd "$(dirname "$0")" && pwd)
asc="$here/node_modules/.bin/asc"
if [ ! -x "$asc" ]; then
    echo "build.sh: $asc is missing; run: npm ci --prefix $here" >&2
    exit 1
fi
"$asc" "$here/tasks.ts" --outFile "$out" -O3 --use abort=
