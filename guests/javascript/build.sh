#!/bin/sh
# Builds the JavaScript example guest into a component: guests/javascript/build.sh [OUT.wasm]
# (default: tasks.wasm next to this script).
# Needs node and the SDK's pinned componentize-js: npm ci --prefix guest-sdk/javascript
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/tasks.wasm}
sdk=$here/../../guest-sdk/javascript
if [ ! -d "$sdk/node_modules/@bytecodealliance/componentize-js" ]; then
    echo "build.sh: componentize-js is missing; run: npm ci --prefix $sdk" >&2
    exit 1
fi
exec node "$sdk/build.mjs" "$here/tasks.js" "$out"
