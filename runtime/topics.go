package runtime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddy-streams/eddy/broker"
	"github.com/eddy-streams/eddy/internal/cli"
	"github.com/eddy-streams/eddy/internal/topics"
)

// TopicSpec is how a topic the app uses should be created, by
// `topics create`, by the worker at start when topics.create_missing
// says so, and by the embedded broker. Zero fields are not declared:
// Partitions takes topics.partitions, ReplicationFactor
// topics.replication_factor, and configs not named the broker's defaults.
// An existing topic is left as it is; `topics create`, `topics describe`
// and the worker's start report how it differs from what is declared.
type TopicSpec struct {
	// Partitions is the partition count.
	Partitions int
	// ReplicationFactor is how many brokers hold each partition. The
	// embedded broker, one node, always has 1.
	ReplicationFactor int
	// Configs are Kafka topic configs, as Kafka writes them:
	// {"cleanup.policy": "compact", "retention.ms": "86400000"}.
	Configs map[string]string
}

// DeclareTopic declares how topic should be created. The topic may be one
// the app's handlers read (Handle), its outputs write (NewOutput) or its
// global tables follow, or any other it uses, such as one it produces to
// with Context.Produce: it is then one of the app's Topics. Table
// changelogs are not declared here but with tables.Options. Problems (an
// empty name, a topic declared twice, counts out of range, a changelog's
// name) are reported by App.Run.
func (a *App) DeclareTopic(topic string, spec TopicSpec) {
	switch {
	case topic == "":
		a.errorf("runtime: DeclareTopic: the topic has no name")
		return
	case spec.Partitions < 0 || spec.Partitions > math.MaxInt32:
		a.errorf("runtime: DeclareTopic(%q): Partitions %d is out of range (1 to %d, or 0 for topics.partitions)", topic, spec.Partitions, math.MaxInt32)
		return
	case spec.ReplicationFactor < 0 || spec.ReplicationFactor > math.MaxInt16:
		a.errorf("runtime: DeclareTopic(%q): ReplicationFactor %d is out of range (1 to %d, or 0 for topics.replication_factor)",
			topic, spec.ReplicationFactor, math.MaxInt16)
		return
	}
	for k := range spec.Configs {
		if strings.TrimSpace(k) == "" {
			a.errorf("runtime: DeclareTopic(%q): a config has an empty name", topic)
			return
		}
	}
	for _, d := range a.declared {
		if d.Name == topic {
			a.errorf("runtime: topic %q is declared twice: declare each topic once", topic)
			return
		}
	}
	a.declared = append(a.declared, topics.Spec{Name: topic, Partitions: int32(spec.Partitions),
		Replication: int16(spec.ReplicationFactor), Configs: spec.Configs})
}

// checkDeclared reports declarations of topics the app creates itself.
func (a *App) checkDeclared() error {
	changelogs := a.changelogs()
	var errs []error
	for _, d := range a.declared {
		if changelogs[d.Name] {
			errs = append(errs, fmt.Errorf("runtime: DeclareTopic(%q): the topic is a table's changelog, which the app creates itself: "+
				"set its partitions, replication and configs in the table's tables.Options", d.Name))
		}
	}
	return errors.Join(errs...)
}

// topicSpecs returns a spec for each of the app's topics, in Topics'
// order: the declared ones as declared, the others with nothing declared.
func (a *App) topicSpecs() []topics.Spec {
	ts := a.Topics()
	specs := make([]topics.Spec, len(ts))
	for i, t := range ts {
		specs[i] = a.declaredSpec(t)
	}
	return specs
}

// declaredSpec is topic's declaration, or a spec declaring nothing.
func (a *App) declaredSpec(topic string) topics.Spec {
	for _, d := range a.declared {
		if d.Name == topic {
			return d
		}
	}
	return topics.Spec{Name: topic}
}

// brokerTopics are the declared topics as the embedded broker creates
// them.
func brokerTopics(specs []topics.Spec) []broker.Topic {
	var out []broker.Topic
	for _, s := range specs {
		if s.Partitions > 0 || len(s.Configs) > 0 {
			out = append(out, broker.Topic{Name: s.Name, Partitions: int(s.Partitions), Configs: s.Configs})
		}
	}
	return out
}

// createMissing reports whether the worker creates missing topics.
func (w *worker) createMissing(embedded bool) bool {
	switch w.cfg.TopicsCreateMissing {
	case "true":
		return true
	case "false":
		return false
	}
	return embedded
}

// checkTopics fails start-up, with a message naming them, when the brokers
// cannot be reached or a topic the app reads or writes does not exist; it
// first creates the missing ones if topics.create_missing says so. It logs
// how existing topics differ from their declarations.
func (w *worker) checkTopics(ctx context.Context, embedded bool) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.ConnectTimeout)
	defer cancel()
	adm := kadm.NewClient(w.groupClient())
	specs := w.app.topicSpecs()
	if embedded {
		// One node: whatever is declared, it has a replication factor of 1.
		for i := range specs {
			specs[i].Replication = 0
		}
	}
	if len(specs) == 0 {
		// Only patterns: reach the brokers all the same.
		_, err := adm.ListBrokers(ctx)
		return w.unreachable(err)
	}
	defaults := topics.Defaults{Partitions: int32(w.cfg.TopicPartitions), Replication: int16(w.cfg.TopicReplication)}
	missing, failed, err := topics.AtStart(ctx, adm, specs, defaults, w.createMissing(embedded), w.logger)
	if err != nil {
		return w.unreachable(err)
	}
	if failed != nil {
		failed = fmt.Errorf("runtime: %w", failed)
	}
	if len(missing) > 0 {
		return errors.Join(failed, fmt.Errorf("runtime: topics missing on %s: %s (create them with `%s topics create`, "+
			"or set topics.create_missing to true to have the worker create them; or check the names)",
			strings.Join(w.brokers, ","), strings.Join(missing, ", "), cli.Binary()))
	}
	return failed
}

// unreachable explains a failure to reach the brokers at start.
func (w *worker) unreachable(err error) error {
	if err == nil {
		return nil
	}
	if e := w.security.Explain(err); e != nil {
		return fmt.Errorf("runtime: cannot connect to the brokers %s (security_protocol %s): %w",
			strings.Join(w.brokers, ","), w.security.Protocol(), e)
	}
	return fmt.Errorf("runtime: cannot reach the brokers %s within %v: %w (are the addresses right and the brokers up?)",
		strings.Join(w.brokers, ","), w.cfg.ConnectTimeout, err)
}

// declaredTopics are the app's declarations, for the tools.
func (a *App) declaredTopics() []topics.Spec { return slices.Clone(a.declared) }
