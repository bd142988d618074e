package actors

import "github.com/eddy-streams/eddy/modes"

// Observer is told of the Engine's events, for metrics. Its methods are
// called from several goroutines, possibly at once, and must return quickly.
type Observer interface {
	// Rebalanced reports partitions assigned, revoked or lost (kind is
	// "assigned", "revoked" or "lost"); n may be 0.
	Rebalanced(kind string, n int)
	// HandlerRestarted reports a handler actor restarted after a panic.
	HandlerRestarted(tp TopicPartition)
	// Committed reports one commit of n partitions' offsets; err is its
	// failure, if any.
	Committed(n int, err error)
	// Stalled reports a partition that made no progress with records
	// waiting, and was restarted.
	Stalled(tp TopicPartition)
	// ModeSwitched reports a partition now running in mode (modes.Single
	// or modes.Bulk).
	ModeSwitched(tp TopicPartition, mode modes.Mode)
	// StepCompleted reports that step (0-based) of the step plan is
	// complete on this worker.
	StepCompleted(step int)
	// GroupRejoin reports that the member has not been in a stable
	// generation of its group for longer than the rebalance timeout plus
	// the session timeout, as st describes, and that Run stops so that
	// the caller rejoins as a new member (ErrRejoin).
	GroupRejoin(st GroupStatus)
}

// nopObserver is the default Observer.
type nopObserver struct{}

func (nopObserver) Rebalanced(string, int)                  {}
func (nopObserver) HandlerRestarted(TopicPartition)         {}
func (nopObserver) Committed(int, error)                    {}
func (nopObserver) Stalled(TopicPartition)                  {}
func (nopObserver) ModeSwitched(TopicPartition, modes.Mode) {}
func (nopObserver) StepCompleted(int)                       {}
func (nopObserver) GroupRejoin(GroupStatus)                 {}
