package serde

import "strings"

// FormatError reports bytes that do not decode as the codec's format.
//
// Every Decode method in this package, including those built by [Func],
// returns a *FormatError on failure; use [errors.As] to retrieve it.
type FormatError struct {
	// Codec names the codec that failed: "string", "json", "int64" or
	// "func".
	Codec string
	// Err is the underlying cause, such as an *encoding/json.SyntaxError.
	// It may be nil.
	Err error
	// Reason says what was wrong with the input, for example
	// "want 8 bytes, got 3".
	Reason string
}

// Error returns "serde: <codec>: <reason>: <cause>", omitting empty parts.
func (e *FormatError) Error() string {
	parts := []string{"serde"}
	if e.Codec != "" {
		parts = append(parts, e.Codec)
	}
	if e.Reason != "" {
		parts = append(parts, e.Reason)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

// Unwrap returns the underlying cause, which may be nil.
func (e *FormatError) Unwrap() error { return e.Err }
