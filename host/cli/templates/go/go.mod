// {{name}}: an rpool task module in Go. The rpool SDK is the copy in ./rpool
// (rpool-wasm's guest-sdk/go), used through the replace directive below, so
// the build downloads nothing.
module {{name}}

go 1.24

require rpool-wasm.invalid/rpool v0.0.0

replace rpool-wasm.invalid/rpool => ./rpool
