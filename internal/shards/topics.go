package shards

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnsureChangelogs creates the changelogs of defs (tables, not global
// ones) that do not exist, with the source topics' partition count (or the
// table's own), replication (or the table's own) and the tables' topic
// configs, and refuses, naming each topic and count, when the sources and
// changelogs do not all have one partition count: tables shard by source
// partition.
func EnsureChangelogs(ctx context.Context, adm *kadm.Client, defs []*Def, sources []string, replication int, logger *slog.Logger) error {
	details, err := adm.ListTopics(ctx, sources...)
	if err != nil {
		return fmt.Errorf("tables: listing topics: %w", err)
	}
	counts := map[string]int{}
	for _, t := range sources {
		counts[t] = len(details[t].Partitions)
	}
	want := counts[sources[0]]
	var changelogs []string
	for _, d := range defs {
		if n := d.opts.Partitions; n > 0 {
			want = n
		}
		changelogs = append(changelogs, d.changelog)
	}
	existing, err := adm.ListTopics(ctx, changelogs...)
	if err != nil {
		return fmt.Errorf("tables: listing changelogs: %w", err)
	}
	for _, d := range defs {
		cl := d.changelog
		if t, ok := existing[cl]; ok && t.Err == nil {
			counts[cl] = len(t.Partitions)
			continue
		}
		rf := int16(cmp.Or(d.opts.ReplicationFactor, replication))
		resp, err := adm.CreateTopic(ctx, int32(want), rf, d.TopicConfigs(), cl)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("tables: table %q: creating changelog %s (%d partitions, replication %d): %w", d.name, cl, want, rf, err)
		}
		logger.Info("created changelog", "table", d.name, "topic", cl, "partitions", want, "replication", rf)
		counts[cl] = want
	}
	var names []string
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if counts[n] != counts[names[0]] {
			var parts []string
			for _, n := range names {
				parts = append(parts, fmt.Sprintf("%s=%d", n, counts[n]))
			}
			return fmt.Errorf("tables: tables shard by source partition, so the source topics and changelogs must have the same partition count; they have: %s", strings.Join(parts, ", "))
		}
	}
	return nil
}

// Partitioner sends records to changelogs to the partition they carry
// (the source partition whose shard wrote them) and every other record
// where its key hashes to, as Kafka's default partitioner does.
func Partitioner(changelogs map[string]bool) kgo.Partitioner {
	return partitioner{changelogs: changelogs, byKey: kgo.StickyKeyPartitioner(nil)}
}

type partitioner struct {
	changelogs map[string]bool
	byKey      kgo.Partitioner
}

func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if p.changelogs[topic] {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return p.byKey.ForTopic(topic)
}
