//go:build !wasm

package rpool

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// The SDK's own tests, run natively (`go test` in guest-sdk/go) against the
// stand-in host of abi_native.go.

// square is the simplest task, for the tests below.
func square(x int64) (int64, error) { return x * x, nil }

func TestCall1EncodesTheResult(t *testing.T) {
	for input, want := range map[string]string{"[7]": "49", " [ -3 ]\n": "9", "[0]": "0"} {
		if got := Simulate(input, func() int32 { return Call1(square) }); got != (Outcome{Result: want}) {
			t.Errorf("square(%s) = %+v, want %s", input, got, want)
		}
	}
}

func TestInvalidArgumentsAreErrors(t *testing.T) {
	task := func() int32 { return Call1(square) }
	for input, want := range map[string]string{
		"[]":       "invalid arguments: expected 1 argument (int64), got 0",
		"[1, 2]":   "invalid arguments: expected 1 argument (int64), got 2",
		`["a"]`:    "invalid arguments: argument 1 (int64): cannot unmarshal string into Go value of type int64",
		"[1.5]":    "invalid arguments: argument 1 (int64): cannot unmarshal number 1.5 into Go value of type int64",
		"[null]":   "invalid arguments: argument 1 (int64): got null",
		"[1e400]":  "invalid arguments: argument 1 (int64): cannot unmarshal number 1e400 into Go value of type int64",
		`{"x": 1}`: "invalid arguments: the input must be the JSON array of the call's arguments; it is a JSON object",
		"null":     "invalid arguments: the input must be the JSON array of the call's arguments; it is null",
		"[1":       "invalid arguments: the input must be the JSON array of the call's arguments; it is not JSON: unexpected end of JSON input",
	} {
		got := Simulate(input, task)
		if got.Status != 1 || got.Error != want {
			t.Errorf("square(%s) = %+v, want the error %q", input, got, want)
		}
	}
}

func TestArgumentsOfEveryArity(t *testing.T) {
	cases := []struct {
		input string
		task  func() int32
		want  string
	}{
		{"[]", func() int32 { return Call0(func() (string, error) { return "<none>", nil }) }, `"<none>"`},
		{`["a", 2]`, func() int32 {
			return Call2(func(s string, n int) (string, error) { return strings.Repeat(s, n), nil })
		}, `"aa"`},
		{`[[1, 2], {"k": true}, null]`, func() int32 {
			return Call3(func(xs []int, m map[string]bool, p *int) ([]any, error) { return []any{len(xs), m["k"], p}, nil })
		}, "[2,true,null]"},
		{"[1, 2, 3, 4]", func() int32 {
			return Run(func() (any, error) {
				var a, b, c, d int64
				if err := Args(&a, &b, &c, &d); err != nil {
					return nil, err
				}
				return a + b + c + d, nil
			})
		}, "10"},
		{"[5]", func() int32 { return Do1(func(int64) error { return nil }) }, "null"},
		{"[]", func() int32 { return Do0(func() error { return nil }) }, "null"},
		{"[1, 2]", func() int32 { return Do2(func(int, int) error { return nil }) }, "null"},
		{"[1, 2, 3]", func() int32 { return Do3(func(int, int, int) error { return nil }) }, "null"},
	}
	for _, c := range cases {
		if got := Simulate(c.input, c.task); got != (Outcome{Result: c.want}) {
			t.Errorf("%s: got %+v, want %s", c.input, got, c.want)
		}
	}
	got := Simulate("[1]", func() int32 { return Call0(func() (int, error) { return 0, nil }) })
	if got.Error != "invalid arguments: expected no arguments, got 1" {
		t.Errorf("Call0 with [1]: %+v", got)
	}
	got = Simulate("[1]", func() int32 { return Call2(func(int, string) (int, error) { return 0, nil }) })
	if got.Error != "invalid arguments: expected 2 arguments (int, string), got 1" {
		t.Errorf("Call2 with [1]: %+v", got)
	}
}

func TestReturnedErrorsAndPanicsFailTheItem(t *testing.T) {
	got := Simulate("[3]", func() int32 {
		return Call1(func(x int) (int, error) { return 0, errors.New("Cannot process 3") })
	})
	if got != (Outcome{Status: 1, Result: "null", Error: "Cannot process 3"}) {
		t.Errorf("returned error: %+v", got)
	}
	got = Simulate("[3]", func() int32 { return Do1(func(x int) error { return errors.New("") }) })
	if got.Status != 1 || got.Error != "returned code 1" {
		t.Errorf("an empty message leaves the host's: %+v", got)
	}
	got = Simulate("[3]", func() int32 {
		return Call1(func(x int) (int, error) { return []int{1}[x], nil })
	})
	if got.Status != 1 || !strings.HasPrefix(got.Error, "panicked at ") ||
		!strings.Contains(got.Error, "rpool_test.go:") ||
		!strings.HasSuffix(got.Error, ": runtime error: index out of range [3] with length 1") {
		t.Errorf("index panic: %+v", got)
	}
	got = Simulate("[3]", func() int32 { return Do1(func(x int) error { panic("no way") }) })
	if got.Status != 1 || !strings.HasPrefix(got.Error, "panicked at ") || !strings.HasSuffix(got.Error, ": no way") {
		t.Errorf("explicit panic: %+v", got)
	}
	// The next call works as usual.
	if got := Simulate("[2]", func() int32 { return Call1(square) }); got.Result != "4" {
		t.Errorf("after a panic: %+v", got)
	}
}

func TestResultsThatJSONCannotHold(t *testing.T) {
	got := Simulate("[]", func() int32 { return Call0(func() (float64, error) { return math.NaN(), nil }) })
	if got.Status != 1 || got.Error != "cannot encode the result as JSON: unsupported value: NaN" {
		t.Errorf("NaN: %+v", got)
	}
	got = Simulate("[]", func() int32 { return Call0(func() (string, error) { return "<&>\n", nil }) })
	if got.Result != `"<&>\n"` {
		t.Errorf("no HTML escaping, no trailing newline: %+v", got)
	}
}

func TestLargeBuffersAreLetGo(t *testing.T) {
	big := "[\"" + strings.Repeat("x", 2*keepBuffer) + "\"]"
	got := Simulate(big, func() int32 { return Call1(func(s string) (int, error) { return len(s), nil }) })
	if got.Result != "131072" || cap(input) > keepBuffer {
		t.Errorf("got %s, input buffer %d bytes", got.Result, cap(input))
	}
}

// The fast paths of fast.go must agree with encoding/json wherever they
// accept an input or a result.
func TestFastPathsAgreeWithEncodingJSON(t *testing.T) {
	inputs := []string{
		"[0]", "[-0]", "[7]", " [ 7 ] ", "[\t-12\n]", "[9223372036854775807]", "[-9223372036854775808]",
		"[9223372036854775808]", "[01]", "[1.]", "[.5]", "[+1]", "[1.5]", "[1e3]", "[1E+3]", "[-2.5e-7]",
		"[1e400]", "[0x10]", "[1_000]", "[true]", "[false]", "[tru]", "[null]", `["a"]`, `["a\"b"]`,
		`["\u00e9"]`, "[\"\xff\"]", "[\"é\"]", `[""]`, "[1, 2]", "[1 2]", "[1,]", "[[1]]", "[]", "[1] x",
		"[1e-7]", "[123456789012345678901234567890]", `["x", 3]`, `[3, "x"]`,
	}
	targets := []func() []any{
		func() []any { return []any{new(int64)} },
		func() []any { return []any{new(int)} },
		func() []any { return []any{new(float64)} },
		func() []any { return []any{new(bool)} },
		func() []any { return []any{new(string)} },
		func() []any { return []any{new(int64), new(int64)} },
		func() []any { return []any{new(string), new(int)} },
	}
	deref := func(dst []any) string {
		var parts []string
		for _, d := range dst {
			b, _ := json.Marshal(d)
			parts = append(parts, string(b))
		}
		return strings.Join(parts, ",")
	}
	accepted := 0
	for _, input := range inputs {
		for _, target := range targets {
			fast := target()
			if !fastArgs([]byte(input), fast) {
				continue
			}
			accepted++
			slow := target()
			var raw []json.RawMessage
			err := json.Unmarshal([]byte(input), &raw)
			for i := 0; err == nil && i < len(raw) && i < len(slow); i++ {
				err = json.Unmarshal(raw[i], slow[i])
			}
			if err != nil || len(raw) != len(slow) || deref(fast) != deref(slow) {
				t.Errorf("%s into %T: fast %s, encoding/json %s (%v)", input, fast[0], deref(fast), deref(slow), err)
			}
		}
	}
	if accepted < 20 {
		t.Errorf("the fast path accepted only %d cases", accepted)
	}
	values := []any{
		int64(0), int64(-9223372036854775808), 42, int32(-7), true, false, "", "plain text", "<&>", "é", "a\"b",
		"tab\t", 0.0, -0.0, 1.5, 1e21, 1e20, 1e-6, 1e-7, -2.5e-300, 5e-324, 1.7976931348623157e308, 0.1, 100.0,
		math.NaN(), math.Inf(1), uint(3), []int{1},
	}
	for _, v := range values {
		fast, ok := fastOutput(nil, v)
		if !ok {
			continue
		}
		// As Output writes it: no HTML escaping, no trailing newline.
		var slow strings.Builder
		e := json.NewEncoder(&slow)
		e.SetEscapeHTML(false)
		err := e.Encode(v)
		if err != nil || string(fast)+"\n" != slow.String() {
			t.Errorf("%#v: fast %s, encoding/json %s (%v)", v, fast, slow.String(), err)
		}
	}
}
