// The Go example guest: the Python Pool tutorial's tasks on the rpool Go SDK.
// Build it with build.sh (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared).
module rpool-wasm.invalid/guests/go

go 1.24

require rpool-wasm.invalid/rpool v0.0.0

// The SDK is this repository's guest-sdk/go, not a download.
replace rpool-wasm.invalid/rpool => ../../guest-sdk/go
