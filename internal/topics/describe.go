package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Description is a topic as the brokers have it.
type Description struct {
	Name string
	// Missing is set for a topic that does not exist; the other fields
	// are then empty.
	Missing     bool
	Replication int
	Partitions  []PartitionInfo // by partition number
	Configs     []ConfigValue   // sorted by name
	Err         error           // a failure to describe the topic
}

// PartitionInfo is one partition of a topic.
type PartitionInfo struct {
	Partition int32
	Leader    int32
	Replicas  []int32
	// Start and End are the first offset and the offset the next record
	// gets: End-Start records, less any compaction removed.
	Start, End int64
}

// ConfigValue is one topic config and where its value comes from.
type ConfigValue struct {
	Name, Value string
	// Set is true for a value set on the topic (or for the whole
	// cluster), false for the broker's default.
	Set bool
}

// Describe describes the named topics, in the order given: partitions
// with their leader, replicas and offsets, and configs. It returns an
// error only when the brokers did not answer; a topic that does not exist
// is Missing.
func Describe(ctx context.Context, adm *kadm.Client, names []string) ([]Description, error) {
	if len(names) == 0 {
		return nil, nil
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, err
	}
	var existing []string
	out := make([]Description, len(names))
	for i, n := range names {
		d := &out[i]
		d.Name = n
		td, ok := details[n]
		switch {
		case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
			d.Missing = true
		case td.Err != nil:
			d.Err = fmt.Errorf("topics: topic %q: %w", n, td.Err)
		default:
			existing = append(existing, n)
			d.Replication = replication(td)
			for _, p := range td.Partitions.Sorted() {
				d.Partitions = append(d.Partitions, PartitionInfo{Partition: p.Partition, Leader: p.Leader, Replicas: p.Replicas, Start: -1, End: -1})
			}
		}
	}
	if len(existing) == 0 {
		return out, nil
	}
	starts, err := adm.ListStartOffsets(ctx, existing...)
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, existing...)
	if err != nil {
		return nil, err
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, existing...)
	if err != nil {
		return nil, err
	}
	for i := range out {
		d := &out[i]
		if d.Missing || d.Err != nil {
			continue
		}
		for j := range d.Partitions {
			p := &d.Partitions[j]
			if o, ok := starts.Lookup(d.Name, p.Partition); ok && o.Err == nil {
				p.Start = o.Offset
			}
			if o, ok := ends.Lookup(d.Name, p.Partition); ok && o.Err == nil {
				p.End = o.Offset
			}
		}
		rc, err := rcs.On(d.Name, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			d.Err = fmt.Errorf("topics: describing the configs of topic %q: %w", d.Name, err)
			continue
		}
		for _, c := range rc.Configs {
			d.Configs = append(d.Configs, ConfigValue{Name: c.Key, Value: c.MaybeValue(), Set: setOnTopic(c.Source)})
		}
		slices.SortFunc(d.Configs, func(a, b ConfigValue) int { return strings.Compare(a.Name, b.Name) })
	}
	return out, nil
}

// setOnTopic reports whether a config's value was set by someone rather
// than being a default: on the topic, or dynamically for the brokers.
func setOnTopic(src kmsg.ConfigSource) bool {
	switch src {
	case kmsg.ConfigSourceDynamicTopicConfig, kmsg.ConfigSourceDynamicBrokerConfig,
		kmsg.ConfigSourceDynamicDefaultBrokerConfig, kmsg.ConfigSourceStaticBrokerConfig:
		return true
	}
	return false
}
