package modes

import (
	"errors"
	"fmt"
	"time"
)

// Mode is how a partition's records reach its handler.
type Mode int

const (
	// Auto switches each partition between Single and Bulk on its lag.
	// It is a policy, never a running mode.
	Auto Mode = iota
	// Single hands records to the handler one by one.
	Single
	// Bulk hands records to the handler in batches.
	Bulk
)

func (m Mode) String() string {
	switch m {
	case Auto:
		return "auto"
	case Single:
		return "single"
	case Bulk:
		return "bulk"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// MarshalText writes the mode as String does, so JSON and YAML show
// "single", not a number.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads a mode as Parse does.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Parse reads a mode as written in configuration: "auto", "single" or
// "bulk".
func Parse(s string) (Mode, error) {
	switch s {
	case "auto":
		return Auto, nil
	case "single":
		return Single, nil
	case "bulk":
		return Bulk, nil
	}
	return 0, fmt.Errorf("modes: unknown mode %q (want auto, single or bulk)", s)
}

// Policy says how modes are chosen.
type Policy struct {
	// Mode is Auto, or the mode every partition is forced into.
	Mode Mode
	// LagHigh: in Auto, a partition whose lag is above LagHigh switches
	// to Bulk.
	LagHigh int64
	// LagLow: in Auto, a partition in Bulk whose lag is below LagLow
	// switches back to Single.
	LagLow int64
	// MinDwell is the least time a partition stays in a mode before Auto
	// switches it again, so lag oscillating around a threshold cannot make
	// it flap. The first switch after a partition starts is not held back.
	MinDwell time.Duration
}

// Validate reports a policy that cannot work.
func (p Policy) Validate() error {
	var errs []error
	if p.Mode != Auto && p.Mode != Single && p.Mode != Bulk {
		errs = append(errs, fmt.Errorf("modes: unknown mode %v", p.Mode))
	}
	if p.Mode == Auto {
		if p.LagLow < 0 {
			errs = append(errs, fmt.Errorf("modes: low lag threshold %d is negative", p.LagLow))
		}
		if p.LagHigh <= p.LagLow {
			errs = append(errs, fmt.Errorf("modes: high lag threshold %d must be above the low one, %d", p.LagHigh, p.LagLow))
		}
		if p.MinDwell < 0 {
			errs = append(errs, fmt.Errorf("modes: minimum dwell %v is negative", p.MinDwell))
		}
	}
	return errors.Join(errs...)
}

// Switch chooses the running mode of one partition. It is not safe for
// concurrent use.
type Switch struct {
	policy   Policy
	mode     Mode
	since    time.Time // when the current mode began; zero before the first switch
	switches int
}

// NewSwitch returns the Switch of a partition that starts now: in the
// forced mode, or in Single under Auto.
func NewSwitch(p Policy) *Switch {
	s := &Switch{policy: p, mode: p.Mode}
	if p.Mode == Auto {
		s.mode = Single
	}
	return s
}

// Mode is the mode the partition runs in now: Single or Bulk.
func (s *Switch) Mode() Mode { return s.mode }

// Switches counts the mode changes so far.
func (s *Switch) Switches() int { return s.switches }

// Observe takes the partition's lag (records behind its high watermark;
// negative when unknown) at time now, and returns the mode to run and
// whether it differs from the mode before.
func (s *Switch) Observe(lag int64, now time.Time) (Mode, bool) {
	if s.policy.Mode != Auto || lag < 0 {
		return s.mode, false
	}
	if !s.since.IsZero() && now.Sub(s.since) < s.policy.MinDwell {
		return s.mode, false
	}
	next := s.mode
	switch {
	case s.mode == Single && lag > s.policy.LagHigh:
		next = Bulk
	case s.mode == Bulk && lag < s.policy.LagLow:
		next = Single
	}
	if next == s.mode {
		return s.mode, false
	}
	s.mode, s.since = next, now
	s.switches++
	return s.mode, true
}
