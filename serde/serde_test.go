package serde_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eddy-streams/eddy/serde"
)

// roundTrip checks that every value in vals survives Encode then Decode.
func roundTrip[T any](t *testing.T, c serde.Codec[T], vals []T) {
	t.Helper()
	for _, v := range vals {
		b, err := c.Encode(v)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", v, err)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(%#v)) = %q: %v", v, b, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("Decode(Encode(%#v)) = %#v", v, got)
		}
	}
}

// order has no omitempty fields: omitempty turns an empty slice into a nil
// one, which would make round trips lossy by design.
type order struct {
	ID    string            `json:"id"`
	Qty   int               `json:"qty"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
	Next  *order            `json:"next"`
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"bytes", func(t *testing.T) {
			roundTrip(t, serde.Bytes(), [][]byte{nil, {}, {0}, []byte("hello"), {0xff, 0xfe}})
		}},
		{"string", func(t *testing.T) {
			roundTrip(t, serde.String(), []string{"", "a", "héllo, 世界", "\x00", "\uFFFD", "😀"})
		}},
		{"json struct", func(t *testing.T) {
			roundTrip(t, serde.JSON[order](), []order{
				{},
				{ID: "o-1", Qty: 3},
				{ID: "o-2", Tags: []string{"a", "b"}, Attrs: map[string]string{"k": "v"}, Next: &order{ID: "o-3"}},
			})
		}},
		{"json pointer", func(t *testing.T) {
			roundTrip(t, serde.JSON[*order](), []*order{nil, {ID: "x"}})
		}},
		{"json any", func(t *testing.T) {
			roundTrip(t, serde.JSON[any](), []any{nil, true, 1.5, "s", []any{1.0, "x"}, map[string]any{"a": []any{}}})
		}},
		{"int64", func(t *testing.T) {
			roundTrip(t, serde.Int64(), []int64{0, 1, -1, 42, math.MaxInt64, math.MinInt64})
		}},
		{"func", func(t *testing.T) {
			roundTrip(t, decimal(), []int{0, 7, -12345})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t)
		})
	}
}

// The identity codec must not turn a tombstone's nil into an empty slice,
// nor copy: callers rely on both.
func TestBytesIdentity(t *testing.T) {
	t.Parallel()
	c := serde.Bytes()
	if got, _ := c.Decode(nil); got != nil {
		t.Errorf("Decode(nil) = %#v, want nil", got)
	}
	if got, _ := c.Encode(nil); got != nil {
		t.Errorf("Encode(nil) = %#v, want nil", got)
	}
	in := []byte("abc")
	got, err := c.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &in[0] {
		t.Error("Decode copied its input; want it returned as is")
	}
}

func TestInt64Wire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    int64
		wire []byte
	}{
		{0, []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		{1, []byte{0, 0, 0, 0, 0, 0, 0, 1}},
		{-1, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{256, []byte{0, 0, 0, 0, 0, 0, 1, 0}},
		{0x0102030405060708, []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{math.MaxInt64, []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{math.MinInt64, []byte{0x80, 0, 0, 0, 0, 0, 0, 0}},
	}
	c := serde.Int64()
	for _, tt := range tests {
		b, err := c.Encode(tt.v)
		if err != nil {
			t.Fatalf("Encode(%d): %v", tt.v, err)
		}
		if !bytes.Equal(b, tt.wire) {
			t.Errorf("Encode(%d) = % x, want % x", tt.v, b, tt.wire)
		}
		v, err := c.Decode(tt.wire)
		if err != nil {
			t.Fatalf("Decode(% x): %v", tt.wire, err)
		}
		if v != tt.v {
			t.Errorf("Decode(% x) = %d, want %d", tt.wire, v, tt.v)
		}
	}
}

var errUser = errors.New("user: not a decimal")

// decimal is a user codec built with Func: ints as ASCII decimal.
func decimal() serde.Codec[int] {
	return serde.Func(
		func(v int) ([]byte, error) { return strconv.AppendInt(nil, int64(v), 10), nil },
		func(b []byte) (int, error) {
			v, err := strconv.Atoi(string(b))
			if err != nil {
				return -1, errUser
			}
			return v, nil
		},
	)
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		decode    func() (any, error)
		codec     string
		msg       string // exact Error() text; empty to check prefix only
		msgPrefix string
		cause     any // pointer to a target for errors.As, or an error for errors.Is
	}{
		{
			name:   "string invalid utf8",
			decode: func() (any, error) { return serde.String().Decode([]byte("ok\xffno")) },
			codec:  "string",
			msg:    "serde: string: invalid UTF-8 at byte 2",
		},
		{
			name:   "string truncated rune",
			decode: func() (any, error) { return serde.String().Decode([]byte("世界"[:4])) },
			codec:  "string",
			msg:    "serde: string: invalid UTF-8 at byte 3",
		},
		{
			name:      "json syntax",
			decode:    func() (any, error) { return serde.JSON[order]().Decode([]byte(`{"id":`)) },
			codec:     "json",
			msgPrefix: "serde: json: decode into serde_test.order: ",
			cause:     new(*json.SyntaxError),
		},
		{
			name:      "json trailing data",
			decode:    func() (any, error) { return serde.JSON[order]().Decode([]byte(`{} x`)) },
			codec:     "json",
			msgPrefix: "serde: json: decode into serde_test.order: ",
			cause:     new(*json.SyntaxError),
		},
		{
			name:      "json wrong type",
			decode:    func() (any, error) { return serde.JSON[order]().Decode([]byte(`{"qty":"three"}`)) },
			codec:     "json",
			msgPrefix: "serde: json: decode into serde_test.order: ",
			cause:     new(*json.UnmarshalTypeError),
		},
		{
			name:   "json empty",
			decode: func() (any, error) { return serde.JSON[order]().Decode([]byte{}) },
			codec:  "json",
			msg:    "serde: json: empty input (is the record a tombstone?)",
		},
		{
			name:   "json nil",
			decode: func() (any, error) { return serde.JSON[order]().Decode(nil) },
			codec:  "json",
			msg:    "serde: json: empty input (is the record a tombstone?)",
		},
		{
			name:   "int64 short",
			decode: func() (any, error) { return serde.Int64().Decode([]byte{1, 2, 3}) },
			codec:  "int64",
			msg:    "serde: int64: want 8 bytes, got 3",
		},
		{
			name:   "int64 long",
			decode: func() (any, error) { return serde.Int64().Decode(make([]byte, 9)) },
			codec:  "int64",
			msg:    "serde: int64: want 8 bytes, got 9",
		},
		{
			name:   "int64 nil",
			decode: func() (any, error) { return serde.Int64().Decode(nil) },
			codec:  "int64",
			msg:    "serde: int64: want 8 bytes, got 0",
		},
		{
			name:   "func nil decode",
			decode: func() (any, error) { return serde.Func[int](nil, nil).Decode([]byte("1")) },
			codec:  "func",
			msg:    "serde: func: no decode function (passed nil to serde.Func)",
		},
		{
			name:   "func user error",
			decode: func() (any, error) { return decimal().Decode([]byte("x")) },
			codec:  "func",
			msg:    "serde: func: user: not a decimal",
			cause:  errUser,
		},
		{
			// A user codec that delegates to a serde codec must not be
			// wrapped twice.
			name: "func passes FormatError through",
			decode: func() (any, error) {
				return serde.Func(nil, serde.Int64().Decode).Decode([]byte{1})
			},
			codec: "int64",
			msg:   "serde: int64: want 8 bytes, got 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := tt.decode()
			if err == nil {
				t.Fatalf("Decode succeeded with %#v, want error", v)
			}
			if !reflect.ValueOf(v).IsZero() {
				t.Errorf("Decode returned %#v with its error, want the zero value", v)
			}
			var fe *serde.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %q (%T) is not a *serde.FormatError", err, err)
			}
			if fe.Codec != tt.codec {
				t.Errorf("Codec = %q, want %q", fe.Codec, tt.codec)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("Error() = %q, want %q", err, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), tt.msgPrefix) {
				t.Errorf("Error() = %q, want prefix %q", err, tt.msgPrefix)
			}
			switch c := tt.cause.(type) {
			case nil:
			case error:
				if !errors.Is(err, c) {
					t.Errorf("errors.Is(%q, %q) = false", err, c)
				}
			default:
				if !errors.As(err, c) {
					t.Errorf("errors.As(%q, %T) = false", err, c)
				}
			}
		})
	}
}

type unsupported struct{ C chan int }

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		encode func() ([]byte, error)
		msg    string
		cause  any
	}{
		{
			name:   "string invalid utf8",
			encode: func() ([]byte, error) { return serde.String().Encode("ok\xffno") },
			msg:    "serde: string: encode: invalid UTF-8 at byte 2",
		},
		{
			name:   "json unsupported type",
			encode: func() ([]byte, error) { return serde.JSON[unsupported]().Encode(unsupported{}) },
			msg:    "serde: json: encode: json: unsupported type: chan int",
			cause:  new(*json.UnsupportedTypeError),
		},
		{
			name:   "func nil encode",
			encode: func() ([]byte, error) { return serde.Func[int](nil, nil).Encode(1) },
			msg:    "serde: func: encode: no encode function (passed nil to serde.Func)",
		},
		{
			name: "func user error",
			encode: func() ([]byte, error) {
				return serde.Func(func(int) ([]byte, error) { return nil, errUser }, nil).Encode(1)
			},
			msg:   "serde: func: encode: user: not a decimal",
			cause: errUser,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := tt.encode()
			if err == nil {
				t.Fatalf("Encode succeeded with %q, want error", b)
			}
			if b != nil {
				t.Errorf("Encode returned %q with its error, want nil", b)
			}
			if err.Error() != tt.msg {
				t.Errorf("Error() = %q, want %q", err, tt.msg)
			}
			switch c := tt.cause.(type) {
			case nil:
			case error:
				if !errors.Is(err, c) {
					t.Errorf("errors.Is(%q, %q) = false", err, c)
				}
			default:
				if !errors.As(err, c) {
					t.Errorf("errors.As(%q, %T) = false", err, c)
				}
			}
		})
	}
}

func TestFormatErrorMessage(t *testing.T) {
	t.Parallel()
	cause := errors.New("boom")
	tests := []struct {
		err  *serde.FormatError
		want string
	}{
		{&serde.FormatError{Codec: "x", Reason: "bad", Err: cause}, "serde: x: bad: boom"},
		{&serde.FormatError{Codec: "x", Err: cause}, "serde: x: boom"},
		{&serde.FormatError{Codec: "x", Reason: "bad"}, "serde: x: bad"},
		{&serde.FormatError{}, "serde"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if got := (&serde.FormatError{Err: cause}).Unwrap(); got != cause {
		t.Errorf("Unwrap() = %v, want %v", got, cause)
	}
}

// requireFormatError fails unless err is a *serde.FormatError.
func requireFormatError(t *testing.T, in []byte, err error) {
	t.Helper()
	var fe *serde.FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("Decode(%q): error %q (%T) is not a *serde.FormatError", in, err, err)
	}
}

func FuzzInt64(f *testing.F) {
	for _, s := range [][]byte{nil, {1}, make([]byte, 8), {0x80, 0, 0, 0, 0, 0, 0, 1}, make([]byte, 9)} {
		f.Add(s)
	}
	c := serde.Int64()
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := c.Decode(in)
		if len(in) != 8 {
			if err == nil {
				t.Fatalf("Decode(% x) = %d, want error for %d bytes", in, v, len(in))
			}
			requireFormatError(t, in, err)
			return
		}
		if err != nil {
			t.Fatalf("Decode(% x): %v", in, err)
		}
		out, err := c.Encode(v)
		if err != nil {
			t.Fatalf("Encode(%d): %v", v, err)
		}
		// Every 8-byte input is a valid int64, so the wire form is a bijection.
		if !bytes.Equal(out, in) {
			t.Fatalf("Encode(Decode(% x)) = % x", in, out)
		}
	})
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "hello", "世界", "\xff", "a\xc3", "\xed\xa0\x80", "\uFFFD"} {
		f.Add([]byte(s))
	}
	c := serde.String()
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := c.Decode(in)
		if !utf8.Valid(in) {
			if err == nil {
				t.Fatalf("Decode(%q) = %q, want error for invalid UTF-8", in, v)
			}
			requireFormatError(t, in, err)
			if _, err := c.Encode(string(in)); err == nil {
				t.Fatalf("Encode(%q) succeeded, want error for invalid UTF-8", in)
			}
			return
		}
		if err != nil {
			t.Fatalf("Decode(%q): %v", in, err)
		}
		out, err := c.Encode(v)
		if err != nil {
			t.Fatalf("Encode(%q): %v", v, err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("Encode(Decode(%q)) = %q", in, out)
		}
	})
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		``, `null`, `0`, `-0`, `1e308`, `1e400`, `"a\u00e9\ud800"`, `"\xff"`, `[1,"x",{}]`,
		`{"a":1,"a":2}`, `{"id":"o","qty":2,"tags":["t"],"next":{"id":"p"}}`, `{"qty":"x"}`, `{} x`, ` `,
		`{"tAgs":[],"attrs":{}}`,
	} {
		f.Add([]byte(s))
	}
	// Decoding into any exercises the whole parser; decoding into a struct
	// exercises field matching and type checks.
	dyn, typed := serde.JSON[any](), serde.JSON[order]()
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzJSONRoundTrip(t, dyn, in)
		fuzzJSONRoundTrip(t, typed, in)
	})
}

// fuzzJSONRoundTrip checks that Decode of in either fails with a
// *serde.FormatError or yields a value that survives Encode then Decode.
// Bytes need not round-trip: encoding/json normalises whitespace, numbers,
// escapes and duplicate keys.
func fuzzJSONRoundTrip[T any](t *testing.T, c serde.Codec[T], in []byte) {
	t.Helper()
	v, err := c.Decode(in)
	if err != nil {
		requireFormatError(t, in, err)
		return
	}
	out, err := c.Encode(v)
	if err != nil {
		t.Fatalf("Encode(Decode(%q)): %v", in, err)
	}
	again, err := c.Decode(out)
	if err != nil {
		t.Fatalf("Decode(%q) (re-encoded from %q): %v", out, in, err)
	}
	if !reflect.DeepEqual(again, v) {
		t.Fatalf("round trip of %q: got %#v, want %#v", in, again, v)
	}
}
