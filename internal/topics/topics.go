package topics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Spec is how a topic should be: its partition count, replication factor
// and topic configs. A zero Partitions or Replication is not declared:
// a topic created from the Spec takes the Defaults' value, and an
// existing topic is not compared on it. Configs not named are left to
// the broker.
type Spec struct {
	Name        string
	Partitions  int32
	Replication int16
	Configs     map[string]string
}

// Defaults fill a Spec's undeclared fields when its topic is created.
type Defaults struct {
	Partitions  int32
	Replication int16
}

// Filled returns s with its zero fields taken from d.
func (s Spec) Filled(d Defaults) Spec {
	s.Partitions = cmp.Or(s.Partitions, d.Partitions)
	s.Replication = cmp.Or(s.Replication, d.Replication)
	return s
}

// String describes s as `topics create` prints it: "12 partitions,
// replication factor 3, cleanup.policy=compact".
func (s Spec) String() string {
	parts := []string{fmt.Sprintf("%d partitions", s.Partitions)}
	if s.Replication > 0 {
		parts = append(parts, fmt.Sprintf("replication factor %d", s.Replication))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Configs)) {
		parts = append(parts, k+"="+s.Configs[k])
	}
	return strings.Join(parts, ", ")
}

// State is what Ensure found, or did, for a topic.
type State int

const (
	// Exists: the topic was there; Result.Diffs says how it differs
	// from its Spec.
	Exists State = iota
	// Created: the topic did not exist, and Ensure created it.
	Created
	// Missing: the topic does not exist, and Ensure was not to create it.
	Missing
	// Failed: creating or describing the topic failed (Result.Err).
	Failed
)

// Diff is one way an existing topic differs from its Spec.
type Diff struct {
	What string // "partitions", "replication factor", or a config's name
	Have string // the topic's
	Want string // the Spec's
}

// String says the difference as a sentence's end: "has 3 partitions,
// not 12", "has retention.ms=604800000, not 86400000".
func (d Diff) String() string {
	switch d.What {
	case "partitions":
		return fmt.Sprintf("has %s partitions, not %s", d.Have, d.Want)
	case "replication factor":
		return fmt.Sprintf("has replication factor %s, not %s", d.Have, d.Want)
	}
	return fmt.Sprintf("has %s=%s, not %s", d.What, d.Have, d.Want)
}

// Result is what Ensure found, or did, for one Spec.
type Result struct {
	// Spec is the spec as given; a created topic got Spec.Filled.
	Spec Spec
	// Created is the spec the topic was created with, when it was.
	Created Spec
	State   State
	// Partitions and Replication are an existing topic's.
	Partitions  int
	Replication int
	Diffs       []Diff
	Err         error
}

// Ensure looks up the topics of specs, creates those that do not exist
// when create is true (with their Spec filled from d), and compares those
// that exist with their Spec: the partition count and replication factor
// when declared (non-zero), and each config it names. It never changes an
// existing topic. It returns one Result per Spec, in order, and an error
// only when the brokers did not answer; a topic that could not be
// created or described has State Failed and its Err.
func Ensure(ctx context.Context, adm *kadm.Client, specs []Spec, d Defaults, create bool) ([]Result, error) {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	if len(names) == 0 {
		return nil, nil
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(specs))
	var withConfigs []string
	for i, s := range specs {
		r := &results[i]
		r.Spec = s
		dt, ok := details[s.Name]
		switch {
		case !ok || errors.Is(dt.Err, kerr.UnknownTopicOrPartition):
			r.State = Missing
		case dt.Err != nil:
			r.State, r.Err = Failed, fmt.Errorf("topics: topic %q: %w", s.Name, dt.Err)
		default:
			r.State = Exists
			r.Partitions, r.Replication = len(dt.Partitions), replication(dt)
			if s.Partitions > 0 && r.Partitions != int(s.Partitions) {
				r.Diffs = append(r.Diffs, Diff{"partitions", strconv.Itoa(r.Partitions), strconv.Itoa(int(s.Partitions))})
			}
			if s.Replication > 0 && r.Replication != int(s.Replication) {
				r.Diffs = append(r.Diffs, Diff{"replication factor", strconv.Itoa(r.Replication), strconv.Itoa(int(s.Replication))})
			}
			if len(s.Configs) > 0 {
				withConfigs = append(withConfigs, s.Name)
			}
		}
	}
	if err := compareConfigs(ctx, adm, withConfigs, results); err != nil {
		return nil, err
	}
	if !create {
		return results, nil
	}
	for i := range results {
		r := &results[i]
		if r.State != Missing {
			continue
		}
		full := r.Spec.Filled(d)
		var configs map[string]*string
		for k, v := range full.Configs {
			if configs == nil {
				configs = map[string]*string{}
			}
			configs[k] = kadm.StringPtr(v)
		}
		resp, err := adm.CreateTopic(ctx, full.Partitions, full.Replication, configs, full.Name)
		if err == nil {
			err = resp.Err
			if err != nil && resp.ErrMessage != "" {
				err = fmt.Errorf("%w (%s)", err, resp.ErrMessage)
			}
		}
		switch {
		case err == nil:
			r.State, r.Created = Created, full
			// A broker before Kafka 2.4 does not say; a newer one may have
			// applied defaults of its own.
			if resp.NumPartitions > 0 {
				r.Created.Partitions = resp.NumPartitions
			}
			if resp.ReplicationFactor > 0 {
				r.Created.Replication = resp.ReplicationFactor
			}
		case errors.Is(err, kerr.TopicAlreadyExists):
			r.State = Exists // created meanwhile, by another worker or tool
		case ctx.Err() != nil:
			return nil, err
		default:
			r.State, r.Err = Failed, fmt.Errorf("topics: create topic %q (%s): %w", full.Name, full, err)
		}
	}
	return results, nil
}

// replication is a topic's replication factor: its first partition's
// replica count.
func replication(d kadm.TopicDetail) int {
	for _, p := range d.Partitions {
		return len(p.Replicas)
	}
	return 0
}

// compareConfigs adds to results the differences of the named topics'
// configs from their specs.
func compareConfigs(ctx context.Context, adm *kadm.Client, names []string, results []Result) error {
	if len(names) == 0 {
		return nil
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return err
	}
	for i := range results {
		r := &results[i]
		if !slices.Contains(names, r.Spec.Name) {
			continue
		}
		rc, err := rcs.On(r.Spec.Name, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			r.State, r.Err = Failed, fmt.Errorf("topics: describing the configs of topic %q: %w", r.Spec.Name, err)
			continue
		}
		have := map[string]string{}
		for _, c := range rc.Configs {
			have[c.Key] = c.MaybeValue()
		}
		for _, k := range slices.Sorted(maps.Keys(r.Spec.Configs)) {
			want := r.Spec.Configs[k]
			got, ok := have[k]
			switch {
			case !ok:
				r.Diffs = append(r.Diffs, Diff{k, "(not set)", want})
			case got != want:
				r.Diffs = append(r.Diffs, Diff{k, got, want})
			}
		}
	}
	return nil
}

// AtStart ensures specs as a worker does when it starts: it creates the
// missing topics when create, logs what it created and how existing topics
// differ from their specs (leaving them as they are), and returns the
// names still missing, sorted, and the errors of topics it could not
// create. err is a failure to reach the brokers.
func AtStart(ctx context.Context, adm *kadm.Client, specs []Spec, d Defaults, create bool, logger *slog.Logger) (missing []string, failed, err error) {
	results, err := Ensure(ctx, adm, specs, d, create)
	if err != nil {
		return nil, nil, err
	}
	var errs []error
	for _, r := range results {
		switch r.State {
		case Created:
			logger.Info("created topic", "topic", r.Spec.Name, "spec", r.Created.String())
		case Missing:
			missing = append(missing, r.Spec.Name)
		case Failed:
			errs = append(errs, r.Err)
		}
		if len(r.Diffs) > 0 {
			diffs := make([]string, len(r.Diffs))
			for i, df := range r.Diffs {
				diffs[i] = df.String()
			}
			logger.Warn("topic differs from its declaration; it is left as it is", "topic", r.Spec.Name,
				"differences", strings.Join(diffs, "; "))
		}
	}
	sort.Strings(missing)
	return missing, errors.Join(errs...), nil
}
