package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TopicsCmd creates the app's topics or lists the cluster's.
func (e Env) TopicsCmd(ctx context.Context, args []string, io IO) error {
	fs := NewFlagSet("topics", io)
	SetUsage(fs, "topics create|list [flags]",
		"create: creates every topic the app reads or writes, with --topics-partitions partitions and\n"+
			"--topics-replication-factor replicas; topics that exist are left as they are.\n"+
			"list: lists the cluster's topics and their partition counts, marking the app's with (app).")
	// The verb may come before the flags or after them: flag parsing
	// stops at the first argument that is not a flag.
	var verb string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	c, err := e.Parse(fs, args, io.Environ)
	if err != nil {
		return err
	}
	rest := fs.Args()
	if verb == "" && len(rest) > 0 {
		verb, rest = rest[0], rest[1:]
	}
	switch {
	case verb == "":
		return UsageErrorf("topics needs a verb: create (create the app's topics) or list (list the cluster's topics)")
	case verb != "create" && verb != "list":
		return UsageErrorf("unknown topics verb %q: use create (create the app's topics) or list (list the cluster's topics)", verb)
	case len(rest) > 0:
		return UsageErrorf("unexpected arguments %q after topics %s", rest, verb)
	}
	cl, err := newClient(c, io)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if verb == "create" {
		return e.createTopics(ctx, adm, c, io)
	}
	return e.listTopics(ctx, adm, c, io)
}

// createTopics creates the app's topics, printing a line per topic.
func (e Env) createTopics(ctx context.Context, adm *kadm.Client, c Cluster, io IO) error {
	topics := e.Topics
	if len(topics) == 0 {
		fmt.Fprintf(io.Err, "app %s declares no topics: nothing to create\n", e.App)
		return nil
	}
	tctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout)
	defer cancel()
	resps, err := adm.CreateTopics(tctx, int32(c.Partitions), int16(c.Replication), nil, topics...)
	if err != nil {
		return brokerError(ctx, c, err)
	}
	var existing []string
	for _, t := range topics {
		if errors.Is(resps[t].Err, kerr.TopicAlreadyExists) {
			existing = append(existing, t)
		}
	}
	var details kadm.TopicDetails
	if len(existing) > 0 {
		if details, err = adm.ListTopics(tctx, existing...); err != nil {
			return brokerError(ctx, c, err)
		}
	}

	var errs []error
	for _, t := range topics {
		r := resps[t]
		switch {
		case r.Err == nil:
			p := int(r.NumPartitions)
			if p <= 0 { // a broker before Kafka 2.4 does not say
				p = c.Partitions
			}
			fmt.Fprintf(io.Out, "created %s (%d partitions)\n", t, p)
		case errors.Is(r.Err, kerr.TopicAlreadyExists):
			d := details[t]
			if d.Err != nil {
				errs = append(errs, fmt.Errorf("cli: topic %q exists, but describing it failed: %w", t, d.Err))
				continue
			}
			p := len(d.Partitions)
			fmt.Fprintf(io.Out, "exists %s (%d partitions)\n", t, p)
			if p != c.Partitions {
				fmt.Fprintf(io.Err, "warning: topic %s has %d partitions, not the configured %d; it is left as it is "+
					"(set --topics-partitions %d to match it, or delete and re-create the topic)\n",
					t, p, c.Partitions, p)
			}
		default:
			msg := ""
			if r.ErrMessage != "" {
				msg = " (" + r.ErrMessage + ")"
			}
			errs = append(errs, fmt.Errorf("cli: create topic %q with %d partitions and replication factor %d: %w%s",
				t, c.Partitions, c.Replication, r.Err, msg))
		}
	}
	return errors.Join(errs...)
}

// listTopics prints the cluster's topics, sorted, one per line.
func (e Env) listTopics(ctx context.Context, adm *kadm.Client, c Cluster, io IO) error {
	tctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout)
	defer cancel()
	details, err := adm.ListTopics(tctx)
	if err != nil {
		return brokerError(ctx, c, err)
	}
	appTopics := e.Topics
	w := bufio.NewWriter(io.Out)
	for _, d := range details.Sorted() {
		fmt.Fprintf(w, "%s\t%d partitions", d.Topic, len(d.Partitions))
		if slices.Contains(appTopics, d.Topic) {
			w.WriteString("\t(app)")
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("cli: topics list: writing the list: %w", err)
	}
	var missing []string
	for _, t := range appTopics {
		if !details.Has(t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(io.Err, "the app's topics missing on %s: %s (create them with `%s topics create`)\n",
			strings.Join(c.Brokers, ","), strings.Join(missing, ", "), Binary())
	}
	return nil
}
