package cli

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Lag prints the lag of the app's group: per topic and partition, the
// committed offset, the end offset, the lag and the member that owns the
// partition; with --watch, again every interval until interrupted.
func (e Env) Lag(ctx context.Context, args []string, io IO) error {
	fs := NewFlagSet("lag", io)
	watch := fs.Duration("watch", 0, "print again every `interval` (e.g. 2s) until interrupted; 0 prints once")
	SetUsage(fs, "lag [--watch interval] [flags]",
		"Prints the app's consumer group per topic and partition: committed offset, end offset, lag\n"+
			"(end minus committed; the whole partition when nothing is committed) and the member that owns it.")
	c, err := e.parse(fs, args, io)
	if err != nil {
		return err
	}
	if *watch < 0 {
		return UsageErrorf("--watch %v: must be 0 (print once) or more", *watch)
	}
	cl, err := newClient(c, io)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		rows, err := e.lagRows(ctx, adm, c)
		if err != nil {
			return err
		}
		if err := writeLag(io.Out, c.Group, rows); err != nil {
			return fmt.Errorf("cli: lag: writing: %w", err)
		}
		if *watch == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*watch):
			fmt.Fprintln(io.Out)
		}
	}
}

// lagRow is one partition of the group's lag.
type lagRow struct {
	topic      string
	partition  int32
	committed  int64 // -1: nothing committed
	start, end int64
	owner      string // the member id; "" when unassigned
}

// lag is what the group has yet to handle of the partition.
func (r lagRow) lag() int64 {
	if r.committed < 0 {
		return r.end - r.start
	}
	return r.end - r.committed
}

// lagRows gathers the group's committed offsets, the end offsets of the
// topics it consumes, and the members' assignments.
func (e Env) lagRows(ctx context.Context, adm *kadm.Client, c Cluster) ([]lagRow, error) {
	ctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout)
	defer cancel()
	topics := e.Sources
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, brokerError(ctx, c, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, brokerError(ctx, c, err)
	}
	committed, err := adm.FetchOffsets(ctx, c.Group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, fmt.Errorf("cli: committed offsets of group %q: %w", c.Group, err)
	}
	owners := map[string]map[int32]string{}
	described, err := adm.DescribeGroups(ctx, c.Group)
	if err != nil {
		return nil, fmt.Errorf("cli: describing group %q: %w", c.Group, err)
	}
	for _, m := range described[c.Group].Members {
		assigned, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, t := range assigned.Topics {
			if owners[t.Topic] == nil {
				owners[t.Topic] = map[int32]string{}
			}
			for _, p := range t.Partitions {
				owners[t.Topic][p] = m.MemberID
			}
		}
	}
	var rows []lagRow
	var errs []error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("cli: end offset of %s/%d: %w", o.Topic, o.Partition, o.Err))
			return
		}
		r := lagRow{topic: o.Topic, partition: o.Partition, committed: -1, end: o.Offset, owner: owners[o.Topic][o.Partition]}
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok {
			r.start = s.Offset
		}
		if co, ok := committed.Lookup(o.Topic, o.Partition); ok && co.Err == nil && co.At >= 0 {
			r.committed = co.At
		}
		rows = append(rows, r)
	})
	slices.SortFunc(rows, func(a, b lagRow) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	return rows, errors.Join(errs...)
}

// writeLag writes the rows as an aligned table with a total.
func writeLag(out io.Writer, group string, rows []lagRow) error {
	bw := bufio.NewWriter(out)
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "group %s\n", group)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tOWNER")
	var total int64
	for _, r := range rows {
		committed := "-"
		if r.committed >= 0 {
			committed = fmt.Sprint(r.committed)
		}
		owner := cmp.Or(r.owner, "-")
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\n", r.topic, r.partition, committed, r.end, r.lag(), owner)
		total += r.lag()
	}
	fmt.Fprintf(tw, "total\t\t\t\t%d\t\n", total)
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}
