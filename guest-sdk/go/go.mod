// The rpool Go SDK: write rpool-wasm task modules (task ABI v1) in Go.
//
// It is not published anywhere: a task module uses it through a replace
// directive that points at a copy of this folder (see README.md). The
// `.invalid` domain makes sure that the go command never looks it up on the
// network if that directive is missing.
module rpool-wasm.invalid/rpool

go 1.24
