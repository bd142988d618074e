package serde

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"unicode/utf8"
)

// Codec converts between a Go value and the bytes of a Kafka record key or value.
// Implementations must be safe for concurrent use.
//
// Decode must not panic on any input; on failure it returns the zero T and
// an error, which for the codecs in this package is a [*FormatError].
type Codec[T any] interface {
	Encode(v T) ([]byte, error)
	Decode(b []byte) (T, error)
}

// Bytes returns the identity codec. Encode and Decode never fail.
//
// Neither method copies: Encode returns v itself, so the caller must not
// modify v until the record has been produced, and Decode returns b itself,
// aliasing the record's buffer. That is safe because records are not reused
// once delivered. A nil slice stays nil, so a tombstone's nil value remains
// distinguishable from an empty one. It is safe for concurrent use.
func Bytes() Codec[[]byte] { return bytesCodec{} }

type bytesCodec struct{}

func (bytesCodec) Encode(v []byte) ([]byte, error) { return v, nil }
func (bytesCodec) Decode(b []byte) ([]byte, error) { return b, nil }

// String returns a codec for UTF-8 text. It is safe for concurrent use.
//
// Decode copies the bytes into a new string and rejects input that is not
// valid UTF-8. Encode rejects strings that are not valid UTF-8 too, so that
// whatever it writes can be read back. Nil and empty input both decode to "".
func String() Codec[string] { return stringCodec{} }

type stringCodec struct{}

func (stringCodec) Encode(v string) ([]byte, error) {
	if i := invalidUTF8At(v); i >= 0 {
		return nil, fmt.Errorf("serde: string: encode: invalid UTF-8 at byte %d", i)
	}
	return []byte(v), nil
}

func (stringCodec) Decode(b []byte) (string, error) {
	if !utf8.Valid(b) {
		// Converting only on the failure path keeps the common path to one copy.
		return "", &FormatError{
			Codec:  "string",
			Reason: fmt.Sprintf("invalid UTF-8 at byte %d", invalidUTF8At(string(b))),
		}
	}
	return string(b), nil
}

// invalidUTF8At returns the offset of the first byte of s that is not part
// of a valid UTF-8 sequence, or -1 if s is valid.
func invalidUTF8At(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			// U+FFFD itself is valid; only a one-byte RuneError is an
			// encoding error.
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return -1
}

// JSON returns a codec that encodes T with [encoding/json]. It is safe for
// concurrent use.
//
// Decode follows [json.Unmarshal]: unknown object fields are ignored, so
// producers may add fields without breaking consumers, and trailing data
// after the JSON value is an error. Empty input, such as a tombstone's nil
// value, is an error rather than a zero T, because a zero T would be
// indistinguishable from a real record; a topic that carries tombstones
// needs a codec built with [Func] that decides what empty input means.
func JSON[T any]() Codec[T] { return jsonCodec[T]{} }

type jsonCodec[T any] struct{}

func (jsonCodec[T]) Encode(v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("serde: json: encode: %w", err)
	}
	return b, nil
}

func (jsonCodec[T]) Decode(b []byte) (T, error) {
	var v T
	if len(b) == 0 {
		return v, &FormatError{Codec: "json", Reason: "empty input (is the record a tombstone?)"}
	}
	if err := json.Unmarshal(b, &v); err != nil {
		var zero T
		return zero, &FormatError{
			Codec:  "json",
			Reason: "decode into " + reflect.TypeFor[T]().String(),
			Err:    err,
		}
	}
	return v, nil
}

// Int64 returns a codec for signed 64-bit integers as 8 big-endian bytes,
// the same wire form as Kafka's LongSerializer and LongDeserializer. Decode
// rejects input of any other length, including nil. It is safe for
// concurrent use.
func Int64() Codec[int64] { return int64Codec{} }

type int64Codec struct{}

func (int64Codec) Encode(v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v)), nil
}

func (int64Codec) Decode(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, &FormatError{Codec: "int64", Reason: fmt.Sprintf("want 8 bytes, got %d", len(b))}
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// Func returns a codec that calls encode and decode, for formats this
// package does not provide. The codec is safe for concurrent use if both
// functions are.
//
// Encode wraps an error from encode as "serde: func: encode: ...". Decode
// returns an error from decode unchanged if it already contains a
// [*FormatError], and otherwise wraps it in one with Codec "func", so the
// guarantee that every Decode failure is a *FormatError holds for user
// codecs too. On any error Decode returns the zero T. A nil encode or decode
// is reported as an error when the codec is used, not when it is built, so
// a codec used in one direction only may leave the other nil.
func Func[T any](encode func(T) ([]byte, error), decode func([]byte) (T, error)) Codec[T] {
	return funcCodec[T]{encode: encode, decode: decode}
}

type funcCodec[T any] struct {
	encode func(T) ([]byte, error)
	decode func([]byte) (T, error)
}

func (c funcCodec[T]) Encode(v T) ([]byte, error) {
	if c.encode == nil {
		return nil, errors.New("serde: func: encode: no encode function (passed nil to serde.Func)")
	}
	b, err := c.encode(v)
	if err != nil {
		return nil, fmt.Errorf("serde: func: encode: %w", err)
	}
	return b, nil
}

func (c funcCodec[T]) Decode(b []byte) (T, error) {
	var zero T
	if c.decode == nil {
		return zero, &FormatError{Codec: "func", Reason: "no decode function (passed nil to serde.Func)"}
	}
	v, err := c.decode(b)
	if err != nil {
		if fe := (*FormatError)(nil); errors.As(err, &fe) {
			return zero, err
		}
		return zero, &FormatError{Codec: "func", Err: err}
	}
	return v, nil
}
