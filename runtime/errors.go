package runtime

import (
	"errors"
	"fmt"

	"github.com/eddy-streams/eddy/actors"
)

// DecodeError reports a record whose key or value its codec could not
// decode. It reaches the error path; by default the record is logged,
// counted and skipped.
type DecodeError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Part is "key" or "value".
	Part string
	Err  error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("runtime: cannot decode %s of %s/%d@%d: %v", e.Part, e.Topic, e.Partition, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// PanicError is a panic recovered from a handler that panicked on every
// attempt; it reaches the error path.
type PanicError = actors.PanicError

// RecordError wraps an error from handling one record with the record's
// coordinates. App.Run returns one when the error path stops the app.
type RecordError struct {
	Topic     string
	Partition int32
	Offset    int64
	Err       error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("runtime: %s/%d@%d: %v", e.Topic, e.Partition, e.Offset, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// ErrUndeclaredOutput is returned by Output.Produce for a topic the Output
// was not declared with.
var ErrUndeclaredOutput = errors.New("runtime: topic not declared for this output")
