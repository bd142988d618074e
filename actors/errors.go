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

// ErrRejoin is wrapped by the error Run returns when the member has not been
// in a stable generation of its consumer group for longer than the rebalance
// timeout plus the session timeout (see Engine.Group): Run has shut down in
// order, and the caller should close the client and run a new Engine on a
// new client, which joins the group as a new member.
var ErrRejoin = errors.New("actors: rejoin the group as a new member")
