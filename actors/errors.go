package actors

import (
	"errors"
	"fmt"
)

// ErrInterrupted marks a Process result as "not handled, the partition is
// stopping": the record stays uncommitted and nothing else happens.
var ErrInterrupted = errors.New("actors: handling interrupted")

// PanicError is a panic recovered from a handler.
type PanicError struct {
	Topic     string
	Partition int32
	Offset    int64
	Attempts  int
	Value     any
	Stack     []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("actors: handler panicked on %s/%d@%d (%d attempts): %v",
		e.Topic, e.Partition, e.Offset, e.Attempts, e.Value)
}
