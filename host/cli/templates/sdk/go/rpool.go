// Package rpool writes rpool-wasm task modules in Go (task ABI v1, docs/abi.md).
//
// A task is an ordinary typed Go function. The helpers Call0 … Call3 (for a
// function with a result) and Do0 … Do3 (for one without, such as an
// initializer) do the ABI work around it: they read the call's input (the
// JSON array of the call's arguments), decode it with encoding/json into the
// function's parameters, call the function, and write its result as JSON, or
// its error as the item's error message. A panic is recovered and reported
// the same way. (Plain numbers, booleans and simple strings skip
// encoding/json for speed, with the same results.) Each task is exported
// under its ABI name with //go:wasmexport, by a one-line function:
//
//	package main
//
//	import (
//		"fmt"
//
//		"rpool-wasm.invalid/rpool"
//	)
//
//	//go:wasmexport risky_task
//	func riskyTaskExport() int32 { return rpool.Call1(riskyTask) }
//
//	func riskyTask(x int64) (int64, error) {
//		if x == 3 {
//			return 0, fmt.Errorf("Cannot process %d", x)
//		}
//		return x * x, nil
//	}
//
//	func main() {} // required by package main; never called
//
// Build it as a WASI reactor (c-shared), whose _initialize the host calls to
// start the Go runtime and run the package initializers:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -o tasks.wasm .
//
// The module imports only `rpool` and `wasi_snapshot_preview1`, as the host
// requires. guests/go in the rpool-wasm repository is a complete example.
//
// Outside WebAssembly the package builds too, with an in-process stand-in for
// the host, so that `go test` can run tasks natively through Simulate.
package rpool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"unsafe"
)

// keepBuffer is the largest input or output buffer kept from one call to the
// next; a larger one (a call with a huge input or result) is let go.
const keepBuffer = 64 << 10

var (
	// input holds the current call's input (see Input).
	input []byte
	// output holds the JSON text of the current call's result.
	output bytes.Buffer
	// scratch holds the result's JSON text instead when fastOutput can
	// write it.
	scratch []byte
	// encoder writes into output. It does not escape <, > and &: the result
	// is read by programs, not embedded in HTML.
	encoder = newEncoder()
)

// newEncoder is the encoder of the output buffer, with HTML escaping off.
func newEncoder() *json.Encoder {
	e := json.NewEncoder(&output)
	e.SetEscapeHTML(false)
	return e
}

// Input returns the current call's input: UTF-8 JSON text, always the JSON
// array of the call's positional arguments ("[x]" under map, the item itself
// under starmap, the initializer's arguments for an initializer, "[]" when
// there are none). The slice is only valid until the call returns: its
// memory is reused by the next call, so copy what you keep.
//
// Call*/Do* read the input for you; Input is for tasks that parse it
// themselves, inside Run.
func Input() []byte {
	n := int(inputLen())
	// The host copies exactly n bytes and traps on an out-of-bounds
	// destination, so the room must exist before inputRead.
	if input == nil || cap(input) < n {
		input = make([]byte, n, max(n, 256))
	}
	input = input[:n]
	inputRead(unsafe.Pointer(unsafe.SliceData(input)))
	return input
}

// Args decodes the current call's input into dst, one pointer per argument:
// the input must be a JSON array of exactly len(dst) elements, and element i
// is decoded into dst[i] with encoding/json. A JSON null is accepted only
// where Go has a nil (pointers, slices, maps, interfaces). The error says
// which argument is wrong and why; it starts with "invalid arguments: ".
//
//	var name string
//	var count int
//	if err := rpool.Args(&name, &count); err != nil { … } // input ["a", 3]
func Args(dst ...any) error {
	return decodeArgs(Input(), dst)
}

// decodeArgs is Args on the given input text: the fast path if it applies,
// else encoding/json, argument by argument, for the error messages.
func decodeArgs(text []byte, dst []any) error {
	if fastArgs(text, dst) {
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(text, &raw); err != nil || raw == nil {
		why := "null"
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			why = "a JSON " + typeErr.Value
		case err != nil:
			why = "not JSON: " + jsonMessage(err)
		}
		return fmt.Errorf("invalid arguments: the input must be the JSON array of the call's arguments; it is %s", why)
	}
	if len(raw) != len(dst) {
		return fmt.Errorf("invalid arguments: expected %s, got %d", describe(dst), len(raw))
	}
	for i, r := range raw {
		if string(bytes.TrimSpace(r)) == "null" && !nullable(dst[i]) {
			return fmt.Errorf("invalid arguments: argument %d (%s): got null", i+1, typeName(dst[i]))
		}
		if err := json.Unmarshal(r, dst[i]); err != nil {
			return fmt.Errorf("invalid arguments: argument %d (%s): %s", i+1, typeName(dst[i]), jsonMessage(err))
		}
	}
	return nil
}

// describe is "no arguments", "1 argument (int64)" or "2 arguments (int64,
// string)": what the input should have held.
func describe(dst []any) string {
	if len(dst) == 0 {
		return "no arguments"
	}
	names := make([]string, len(dst))
	for i, d := range dst {
		names[i] = typeName(d)
	}
	plural := "s"
	if len(dst) == 1 {
		plural = ""
	}
	return fmt.Sprintf("%d argument%s (%s)", len(dst), plural, strings.Join(names, ", "))
}

// typeName is the Go type that dst points to, as in "int64" or "[]string".
func typeName(dst any) string {
	t := reflect.TypeOf(dst)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "nil"
	}
	return t.String()
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// nullable reports whether JSON null is a fitting value for what dst points
// to: a type with a nil, or one that decodes null itself.
func nullable(dst any) bool {
	t := reflect.TypeOf(dst)
	if t == nil || t.Kind() != reflect.Pointer {
		return true // not decodable at all: let encoding/json say so
	}
	if t.Implements(unmarshalerType) {
		return true
	}
	switch t.Elem().Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return true
	}
	return false
}

// jsonMessage is err's text without encoding/json's "json: " prefix.
func jsonMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}

// WriteOutput makes text the call's result. It must be valid JSON (the host
// fails the item otherwise); a later call replaces an earlier one, and a call
// that writes no output at all returns JSON null.
func WriteOutput(text []byte) {
	outputWrite(unsafe.Pointer(unsafe.SliceData(text)), int32(len(text)))
}

// Output makes the JSON encoding of v (as encoding/json writes it, without
// HTML escaping) the call's result. It fails for what JSON cannot hold, such
// as NaN, an infinity, a channel or a function.
func Output(v any) error {
	output.Reset()
	if text, ok := fastOutput(scratch[:0], v); ok {
		WriteOutput(text)
		scratch = text
		return nil
	}
	if err := encoder.Encode(v); err != nil {
		return fmt.Errorf("cannot encode the result as JSON: %s", jsonMessage(err))
	}
	// Encode ends the text with a newline, which the host does not need.
	WriteOutput(bytes.TrimSuffix(output.Bytes(), []byte{'\n'}))
	return nil
}

// WriteError sets the call's error message, which the host reports for the
// item if the task returns non-zero. Call*, Do* and Run write it for you
// from the error a task returns.
func WriteError(message string) {
	errorWrite(unsafe.Pointer(unsafe.StringData(message)), int32(len(message)))
}

// Run runs body as the current call and returns what the export must return:
// 0 on success, 1 on failure. It is the building block of Call* and Do*, for
// a task that reads its input itself (with Input or Args), has more than
// three parameters, or writes its own output:
//
//	//go:wasmexport sum4
//	func sum4Export() int32 {
//		return rpool.Run(func() (any, error) {
//			var a, b, c, d int64
//			if err := rpool.Args(&a, &b, &c, &d); err != nil {
//				return nil, err
//			}
//			return a + b + c + d, nil
//		})
//	}
//
// A non-nil result is written with Output; a nil one writes nothing (so the
// result is JSON null, or what body itself gave to Output or WriteOutput).
// A non-nil error fails the item with err.Error() as its message (an empty
// message leaves the host's own, "task NAME returned code 1"). A panic in
// body fails the item with "panicked at FILE:LINE: " and the panic's value,
// and the instance stays usable for the next item.
func Run(body func() (any, error)) (status int32) {
	defer recoverCall(&status)
	result, err := body()
	if err != nil {
		return fail(err)
	}
	if result == nil {
		return 0
	}
	return succeed(result)
}

// Call0 runs f, a task of no parameters (its input must be "[]"), as the
// current call: see Call1.
func Call0[R any](f func() (R, error)) (status int32) {
	defer recoverCall(&status)
	if err := Args(); err != nil {
		return fail(err)
	}
	r, err := f()
	if err != nil {
		return fail(err)
	}
	return succeed(r)
}

// Call1 runs f as the current call and returns what the export must return:
// 0 on success, 1 on failure. Use it as the whole body of the export:
//
//	//go:wasmexport square
//	func squareExport() int32 { return rpool.Call1(square) }
//
//	func square(x int64) (int64, error) { … }
//
// The input must be "[x]", and x is decoded into f's parameter type A with
// encoding/json (an error says which argument is wrong, and f is not
// called). f's result is encoded with encoding/json as the call's result.
// An error that f returns fails the item with err.Error() as its message; a
// panic fails it with "panicked at FILE:LINE: " and the panic's value.
func Call1[A, R any](f func(A) (R, error)) (status int32) {
	defer recoverCall(&status)
	var a A
	if err := Args(&a); err != nil {
		return fail(err)
	}
	r, err := f(a)
	if err != nil {
		return fail(err)
	}
	return succeed(r)
}

// Call2 runs f, a task of two parameters (input "[a, b]", as starmap passes
// its items), as the current call: see Call1.
func Call2[A, B, R any](f func(A, B) (R, error)) (status int32) {
	defer recoverCall(&status)
	var a A
	var b B
	if err := Args(&a, &b); err != nil {
		return fail(err)
	}
	r, err := f(a, b)
	if err != nil {
		return fail(err)
	}
	return succeed(r)
}

// Call3 runs f, a task of three parameters (input "[a, b, c]"), as the
// current call: see Call1. For more parameters, use Run with Args.
func Call3[A, B, C, R any](f func(A, B, C) (R, error)) (status int32) {
	defer recoverCall(&status)
	var a A
	var b B
	var c C
	if err := Args(&a, &b, &c); err != nil {
		return fail(err)
	}
	r, err := f(a, b, c)
	if err != nil {
		return fail(err)
	}
	return succeed(r)
}

// Do0 runs f, a function of no parameters and no result (its input must be
// "[]", and the call's result is JSON null), as the current call: see Do1.
// An initializer run with `--init NAME` and no --init-args is one.
func Do0(f func() error) (status int32) {
	defer recoverCall(&status)
	if err := Args(); err != nil {
		return fail(err)
	}
	if err := f(); err != nil {
		return fail(err)
	}
	return 0
}

// Do1 runs f, a function of one parameter with no result, as the current
// call: as Call1, except that nothing is written, so the call's result is
// JSON null. It suits initializers, which store their arguments in package
// globals for later calls on the same worker:
//
//	var factor int64
//
//	//go:wasmexport init_worker
//	func initWorkerExport() int32 { return rpool.Do1(initWorker) }
//
//	func initWorker(f int64) error { factor = f; return nil }
func Do1[A any](f func(A) error) (status int32) {
	defer recoverCall(&status)
	var a A
	if err := Args(&a); err != nil {
		return fail(err)
	}
	if err := f(a); err != nil {
		return fail(err)
	}
	return 0
}

// Do2 runs f, a function of two parameters with no result, as the current
// call: see Do1.
func Do2[A, B any](f func(A, B) error) (status int32) {
	defer recoverCall(&status)
	var a A
	var b B
	if err := Args(&a, &b); err != nil {
		return fail(err)
	}
	if err := f(a, b); err != nil {
		return fail(err)
	}
	return 0
}

// Do3 runs f, a function of three parameters with no result, as the current
// call: see Do1.
func Do3[A, B, C any](f func(A, B, C) error) (status int32) {
	defer recoverCall(&status)
	var a A
	var b B
	var c C
	if err := Args(&a, &b, &c); err != nil {
		return fail(err)
	}
	if err := f(a, b, c); err != nil {
		return fail(err)
	}
	return 0
}

// succeed writes v as the call's result and returns 0, or fails the call if
// v cannot be encoded.
func succeed(v any) int32 {
	if err := Output(v); err != nil {
		return fail(err)
	}
	return 0
}

// fail makes err the call's error and returns 1. An empty message is not
// written, so that the host's own ("task NAME returned code 1") is used.
func fail(err error) int32 {
	if message := err.Error(); message != "" {
		WriteError(message)
	}
	return 1
}

// recoverCall, deferred by Run, Call* and Do*, turns a panic into the call's
// error (status 1), and lets go of buffers that grew too large.
func recoverCall(status *int32) {
	if v := recover(); v != nil {
		WriteError(panicMessage(v))
		*status = 1
	}
	if cap(input) > keepBuffer {
		input = nil
	}
	if output.Cap() > keepBuffer {
		output = bytes.Buffer{}
	}
	if cap(scratch) > keepBuffer {
		scratch = nil
	}
}

// panicMessage is "panicked at FILE:LINE: VALUE", or "panicked: VALUE" if
// the place cannot be found, as the Rust SDK reports a panic.
func panicMessage(v any) string {
	message := fmt.Sprint(v)
	if site := panicSite(); site != "" {
		return "panicked at " + site + ": " + message
	}
	return "panicked: " + message
}

// panicSite is "FILE:LINE" of the code that panicked: the first frame below
// runtime.gopanic that is not in the runtime itself (a failed index check
// panics from runtime.panicIndex, called by the faulty code). It is called
// while the panic is being handled, so that frame is still on the stack.
func panicSite() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	inPanic := false
	for {
		frame, more := frames.Next()
		if frame.Function == "runtime.gopanic" {
			inPanic = true
		} else if inPanic && !strings.HasPrefix(frame.Function, "runtime.") {
			return fmt.Sprintf("%s:%d", frame.File, frame.Line)
		}
		if !more {
			return ""
		}
	}
}
