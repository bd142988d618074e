package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The group watch guards the member against a group that never lets it
// into a stable generation, whatever the broker's reason: a coordinator
// that holds a JoinGroup unanswered, keeps a rebalance open, or forgets the
// member while its client waits. franz-go only notices such a wedge when
// its own request times out (rebalance timeout plus 10s), then retries as
// the same member, which may wedge again; meanwhile the worker looks alive
// and idles. The watch describes the group every few seconds and compares
// it with what the client believes; when the member has been out of a
// stable generation for too long it says so (readiness, log, Observer) and
// then makes Run return ErrRejoin, so that the caller starts over with a
// new client, which joins as a new member.
//
// The thresholds come from the client's own settings, the ones the
// coordinator was given:
//
//   - past the rebalance timeout the member is wedged, and not Ready: the
//     coordinator waits at most that long for members to rejoin before it
//     completes a rebalance without them, so a rebalance that follows the
//     protocol is over by then;
//   - past the rebalance timeout plus the session timeout it rejoins. The
//     session timeout is the margin: a member dropped for silence learns it
//     at its next heartbeat, within a session timeout, and franz-go then
//     rejoins by itself; only a member still out after that needs help.
//
// A rebalance that completes its join phase for this member (its
// generation changes) restarts the count: under churn, groups rebalance
// again and again, and each completed join shows the coordinator is
// answering. Only the lack of any progress for that long fires the guard.

// groupStable is the state a group is in when no rebalance is under way.
const groupStable = "Stable"

// GroupStatus describes the member's place in its consumer group as the
// group watch last saw it. The watch runs under the classic group protocol
// only (see Engine.Group).
type GroupStatus struct {
	// Group is the consumer group id.
	Group string `json:"group"`
	// Watched is false when no watch runs: before Run, without a group,
	// or under the consumer group protocol (KIP-848). The other fields but
	// MemberID and Generation are then zero.
	Watched bool `json:"watched"`
	// MemberID and Generation are the client's at the time of the call:
	// empty and -1 until it joined.
	MemberID   string `json:"member_id"`
	Generation int32  `json:"generation"`
	// State is the group's state as the coordinator last described it:
	// Stable, PreparingRebalance, CompletingRebalance, Empty or Dead;
	// empty before the first answer.
	State string `json:"state,omitempty"`
	// Members are the ids of the members the coordinator listed.
	Members []string `json:"members,omitempty"`
	// CheckedAt is when the group was last described, answered or not.
	CheckedAt *time.Time `json:"checked_at,omitempty"`
	// Stable is true when, at the last look, the group was Stable and
	// listed this member in the generation the client holds.
	Stable bool `json:"stable"`
	// UnstableSince is when the member was first seen out of a stable
	// generation, or last completed a join since; nil while Stable.
	UnstableSince *time.Time `json:"unstable_since,omitempty"`
	// UnstableSeconds is how long ago UnstableSince was, at the time of
	// the call; 0 while Stable.
	UnstableSeconds float64 `json:"unstable_seconds"`
	// Wedged is true once UnstableSeconds passed WedgedAfterSeconds (the
	// rebalance timeout). The Engine is not Ready meanwhile.
	Wedged bool `json:"wedged"`
	// WedgedAfterSeconds is the rebalance timeout; RejoinAfterSeconds
	// adds the session timeout: past it, Run returns ErrRejoin.
	WedgedAfterSeconds float64 `json:"wedged_after_seconds,omitempty"`
	RejoinAfterSeconds float64 `json:"rejoin_after_seconds,omitempty"`
	// Reason says, when not Stable, what the last look found.
	Reason string `json:"reason,omitempty"`
}

// groupLook is one look at the group: what the coordinator described and
// what the client believed around it.
type groupLook struct {
	at         time.Time
	memberID   string
	generation int32
	// moved: the client's member id or generation changed during the
	// describe, so the answer may be of another generation.
	moved   bool
	state   string
	members []string
	err     error // the describe failed; state and members are unknown
}

// listed reports whether the coordinator listed the member.
func (l groupLook) listed() bool {
	return l.err == nil && l.memberID != "" && slices.Contains(l.members, l.memberID)
}

// stable reports whether the look found the member in a stable generation.
func (l groupLook) stable() bool {
	return l.state == groupStable && l.generation >= 0 && !l.moved && l.listed()
}

// reason says what a look that is not stable found.
func (l groupLook) reason() string {
	switch {
	case l.err != nil:
		return fmt.Sprintf("describing the group failed: %v", l.err)
	case l.memberID == "" || l.generation < 0:
		return fmt.Sprintf("this member has not joined yet; the group is %s with %d members", l.state, len(l.members))
	case l.moved:
		return "this member's generation changed while the group was described (a rebalance is completing)"
	case l.state == groupStable:
		return fmt.Sprintf("the group is Stable without this member (%s) among its %d", l.memberID, len(l.members))
	case l.listed():
		return fmt.Sprintf("the group is %s (a rebalance is under way) with this member among its %d", l.state, len(l.members))
	default:
		return fmt.Sprintf("the group is %s and does not list this member (%s) among its %d", l.state, l.memberID, len(l.members))
	}
}

// groupVerdict is what the watch makes of a look.
type groupVerdict int

const (
	groupFine      groupVerdict = iota // stable, or not for long
	groupWedged                        // wedged for the first time since the member was last stable
	groupRecovered                     // stable again after being wedged
	groupRejoin                        // out of a stable generation for too long: rejoin
)

// groupWatch holds the watch's settings and what it tracks between looks.
// Only the group loop touches it.
type groupWatch struct {
	group       string
	every       time.Duration // between looks
	wedgeAfter  time.Duration // the rebalance timeout
	rejoinAfter time.Duration // the rebalance timeout plus the session timeout

	since  time.Time // zero while stable
	gen    int32     // the client's generation at the previous look
	wedged bool
}

// newGroupWatch returns the watch of cl's group, reading the settings the
// client gives the coordinator, or false when there is nothing to watch.
func newGroupWatch(cl *kgo.Client, start time.Time) (*groupWatch, bool) {
	group, _ := cl.OptValue(kgo.ConsumerGroup).(string)
	if group == "" {
		return nil, false
	}
	// Under the consumer group protocol (KIP-848) there is no join or
	// sync to wedge: a member is in the group for as long as its
	// heartbeats are answered, the broker assigns, and a fenced member
	// rejoins with a new epoch by itself. DescribeGroups does not answer
	// for such groups either (they need ConsumerGroupDescribe), so there
	// is nothing here to compare. A client that asked for KIP-848 and
	// fell back to classic (the broker lacks it) goes unwatched as well.
	if serverSide, _ := cl.OptValue(kgo.ServerSideBalancer).(bool); serverSide {
		return nil, false
	}
	session, _ := cl.OptValue(kgo.SessionTimeout).(time.Duration)
	rebalance, _ := cl.OptValue(kgo.RebalanceTimeout).(time.Duration)
	_, gen := cl.GroupMetadata()
	return &groupWatch{
		group: group,
		// A few looks per session timeout, so that a wedge is seen
		// within a small part of the thresholds; at most every 5s, one
		// small request to the coordinator.
		every:       min(max(session/3, 10*time.Millisecond), 5*time.Second),
		wedgeAfter:  rebalance,
		rejoinAfter: rebalance + session,
		since:       start,
		gen:         gen,
	}, true
}

// look describes the group and reads the client's member id and
// generation around the call.
func (w *groupWatch) look(ctx context.Context, cl *kgo.Client) groupLook {
	memberID, gen := cl.GroupMetadata()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	described, err := kadm.NewClient(cl).DescribeGroups(ctx, w.group)
	l := groupLook{at: time.Now(), memberID: memberID, generation: gen}
	if after, afterGen := cl.GroupMetadata(); after != memberID || afterGen != gen {
		l.moved = true
		l.memberID, l.generation = after, afterGen
	}
	g, ok := described[w.group]
	switch {
	case err != nil:
		l.err = err
	case !ok:
		l.err = fmt.Errorf("the coordinator did not describe group %q", w.group)
	case g.Err != nil:
		l.err = g.Err
	default:
		l.state = g.State
		for _, m := range g.Members {
			l.members = append(l.members, m.MemberID)
		}
	}
	return l
}

// update takes a look into account and says what it means.
func (w *groupWatch) update(l groupLook) groupVerdict {
	progressed := l.generation >= 0 && l.generation != w.gen
	w.gen = l.generation
	switch {
	case l.stable():
		w.since = time.Time{}
		if w.wedged {
			w.wedged = false
			return groupRecovered
		}
		return groupFine
	case w.since.IsZero() || progressed:
		// Newly out of a stable generation, or a join completed
		// since the last look: the coordinator is answering.
		w.since = l.at
		w.wedged = false
		return groupFine
	}
	out := l.at.Sub(w.since)
	// A rejoin cannot help while the coordinator cannot be asked: the
	// new member's join would go the same way. It fires only on the
	// coordinator's own answer that the member is out.
	if out >= w.rejoinAfter && l.err == nil {
		w.wedged = true
		return groupRejoin
	}
	if out >= w.wedgeAfter && !w.wedged {
		w.wedged = true
		return groupWedged
	}
	return groupFine
}

// status is the GroupStatus after a look.
func (w *groupWatch) status(l groupLook) GroupStatus {
	st := GroupStatus{
		Group:              w.group,
		Watched:            true,
		MemberID:           l.memberID,
		Generation:         l.generation,
		State:              l.state,
		Members:            l.members,
		Stable:             w.since.IsZero(),
		Wedged:             w.wedged,
		WedgedAfterSeconds: w.wedgeAfter.Seconds(),
		RejoinAfterSeconds: w.rejoinAfter.Seconds(),
	}
	if !l.at.IsZero() {
		at := l.at
		st.CheckedAt = &at
	}
	if !st.Stable {
		since := w.since
		st.UnstableSince = &since
		st.Reason = l.reason()
	}
	return st
}

// groupLoop runs the group watch until ctx ends or it fails the Engine
// with ErrRejoin.
func (e *Engine) groupLoop(ctx context.Context, cl *kgo.Client, w *groupWatch) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l := w.look(ctx, cl)
		if ctx.Err() != nil {
			return
		}
		verdict := w.update(l)
		st := w.status(l)
		e.mu.Lock()
		e.mu.group = st
		e.mu.listed = l.listed()
		e.mu.Unlock()
		attrs := []any{"group", w.group, "state", l.state, "members", l.members, "member_id", l.memberID,
			"generation", l.generation, "reason", st.Reason}
		switch verdict {
		case groupWedged:
			e.cfg.Logger.Warn("not in a stable group generation for longer than the rebalance timeout: not ready; rejoining as a new member if it lasts",
				append(attrs, "for", l.at.Sub(w.since).Round(time.Millisecond), "rebalance_timeout", w.wedgeAfter, "rejoin_after", w.rejoinAfter)...)
		case groupRecovered:
			e.cfg.Logger.Info("back in a stable group generation", "group", w.group, "member_id", l.memberID, "generation", l.generation)
		case groupRejoin:
			out := l.at.Sub(w.since).Round(time.Millisecond)
			st.UnstableSeconds = out.Seconds()
			e.cfg.Logger.Error("not in a stable group generation for longer than the rebalance timeout plus the session timeout: shutting down in order and rejoining the group as a new member",
				append(attrs, "for", out, "rejoin_after", w.rejoinAfter)...)
			e.cfg.Observer.GroupRejoin(st)
			e.fail(fmt.Errorf("%w: not in a stable generation of group %q for %v (rebalance timeout plus session timeout: %v): %s",
				ErrRejoin, w.group, out, w.rejoinAfter, st.Reason))
			return
		}
	}
}

// Group describes the member's place in its consumer group: its member id
// and generation, the group's state as last described, and since when it
// has not been in a stable generation. The watch runs under the classic
// group protocol only; see GroupStatus.Watched. Safe for concurrent use.
func (e *Engine) Group() GroupStatus {
	e.mu.Lock()
	st := e.mu.group
	cl := e.mu.client
	e.mu.Unlock()
	st.MemberID, st.Generation = "", -1
	if cl != nil {
		st.MemberID, st.Generation = cl.GroupMetadata()
	}
	if st.UnstableSince != nil {
		st.UnstableSeconds = time.Since(*st.UnstableSince).Seconds()
	}
	return st
}

// rejoining reports whether Run is stopping to rejoin, and whether the
// group listed the member at the watch's last look.
func (e *Engine) rejoining() (rejoin, listed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return errors.Is(e.mu.cause, ErrRejoin), e.mu.listed
}
