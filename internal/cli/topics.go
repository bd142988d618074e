package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddy-streams/eddy/broker"
	"github.com/eddy-streams/eddy/internal/topics"
)

// topicsFlags are the flags of the topics verbs, besides the settings.
type topicsFlags struct {
	partitions  int
	replication int
	configs     configFlag
	file        string
	allConfigs  bool
}

// configFlag collects repeated --topic-config name=value flags.
type configFlag map[string]string

func (f configFlag) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, k+"="+f[k])
	}
	return strings.Join(parts, ",")
}

func (f configFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q is not name=value (e.g. cleanup.policy=compact)", s)
	}
	f[strings.TrimSpace(k)] = v
	return nil
}

// verbFlags says which of the tool's own flags each verb takes.
var verbFlags = map[string][]string{
	"create":   {"partitions", "replication-factor", "topic-config", "file"},
	"describe": {"all-configs"},
	"list":     {},
}

const topicsAbout = "create: creates topics that do not exist, and reports how existing ones differ from what it would\n" +
	"create, leaving them as they are. Without names or --file, the app's topics: those its handlers read by\n" +
	"name, its outputs, the topics of its global tables and of DeclareTopic, each as declared. NAME... creates the\n" +
	"named topics (as declared, if the app declares them). --file creates the topics a YAML file lists:\n\n" +
	"    defaults:                 # optional, for every topic of the file\n" +
	"      partitions: 6           # else --topics-partitions\n" +
	"      replication_factor: 3   # else --topics-replication-factor\n" +
	"      configs: {retention.ms: 604800000}\n" +
	"    topics:\n" +
	"      - name: events\n" +
	"        partitions: 12\n" +
	"        configs: {cleanup.policy: compact}\n" +
	"      - audit                 # a name alone takes the defaults\n\n" +
	"What is not declared takes --topics-partitions and --topics-replication-factor; --partitions,\n" +
	"--replication-factor and --topic-config override every topic's.\n" +
	"describe: partitions (leader, replicas, start and end offsets), replication factor and configs of the named\n" +
	"topics, or of the app's (with the existing topics its patterns match), and how they differ from the app's\n" +
	"declarations.\n" +
	"list: lists the cluster's topics and their partition counts, marking the app's with (app)."

// TopicsCmd creates, describes or lists topics.
func (e Env) TopicsCmd(ctx context.Context, args []string, io IO) error {
	fs := NewFlagSet("topics", io)
	SetUsage(fs, "topics create [NAME...] [--file FILE] [--partitions N] [--replication-factor N] [--topic-config name=value]...\n"+
		"       "+Binary()+" topics describe [NAME...] [--all-configs]\n"+
		"       "+Binary()+" topics list", topicsAbout)
	tf := topicsFlags{configs: configFlag{}}
	fs.IntVar(&tf.partitions, "partitions", 0, "create: partition count of every topic created, over declarations (default: as declared, else --topics-partitions)")
	fs.IntVar(&tf.replication, "replication-factor", 0, "create: replication factor of every topic created, over declarations (default: as declared, else --topics-replication-factor)")
	fs.Var(tf.configs, "topic-config", "create: a topic config of every topic created, over declarations, as `name=value` (repeatable)")
	fs.StringVar(&tf.file, "file", "", "create: create the topics the YAML `file` lists (see above)")
	fs.BoolVar(&tf.allConfigs, "all-configs", false, "describe: show every config, not only those set on the topic or the cluster")

	// Names and flags may come in any order: the flag package stops at
	// the first argument that is not a flag, so split them first.
	flags, positional := splitArgs(args, []string{"all-configs", "h", "help"})
	c, err := e.Parse(fs, flags, io.Environ)
	if err != nil {
		return err
	}
	var verb string
	if len(positional) > 0 {
		verb, positional = positional[0], positional[1:]
	}
	switch {
	case verb == "":
		return UsageErrorf("topics needs a verb: create (create topics), describe (describe topics) or list (list the cluster's topics)")
	case verbFlags[verb] == nil:
		return UsageErrorf("unknown topics verb %q: use create (create topics), describe (describe topics) or list (list the cluster's topics)", verb)
	case verb == "list" && len(positional) > 0:
		return UsageErrorf("unexpected arguments %q after topics list", positional)
	}
	var wrong []string
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains([]string{"partitions", "replication-factor", "topic-config", "file", "all-configs"}, f.Name) &&
			!slices.Contains(verbFlags[verb], f.Name) {
			wrong = append(wrong, "--"+f.Name)
		}
	})
	if len(wrong) > 0 {
		return UsageErrorf("topics %s does not take %s", verb, strings.Join(wrong, ", "))
	}
	var specs []topics.Spec
	if verb == "create" {
		if specs, err = e.createSpecs(c, positional, tf); err != nil {
			return err
		}
	}
	cl, err := newClient(c, io)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	switch verb {
	case "create":
		return e.createTopics(ctx, adm, c, specs, io)
	case "describe":
		return e.describeTopics(ctx, adm, c, positional, tf.allConfigs, io)
	}
	return e.listTopics(ctx, adm, c, io)
}

// splitArgs separates flags (with their values) from other arguments.
// A flag takes the next argument as its value unless it is written
// --name=value or is one of the boolean flags named; "--" ends the flags.
func splitArgs(args []string, boolFlags []string) (flags, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(positional, args[i+1:]...)
		case len(a) < 2 || a[0] != '-':
			positional = append(positional, a)
		default:
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && !slices.Contains(boolFlags, name) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	return flags, positional
}

// brokerTopics are the app's declarations as the broker subcommand
// creates them.
func (e Env) brokerTopics() []broker.Topic {
	var out []broker.Topic
	for _, d := range e.Declared {
		if d.Partitions > 0 || len(d.Configs) > 0 {
			out = append(out, broker.Topic{Name: d.Name, Partitions: int(d.Partitions), Configs: d.Configs})
		}
	}
	return out
}

// declared returns the app's declaration of topic, or a spec declaring
// nothing.
func (e Env) declared(topic string) topics.Spec {
	for _, d := range e.Declared {
		if d.Name == topic {
			return d
		}
	}
	return topics.Spec{Name: topic}
}

// createSpecs returns the topics `topics create` is to create, complete:
// the named ones, the file's, or the app's; each as declared, then the
// flags over it, then the settings' defaults under it.
func (e Env) createSpecs(c Cluster, names []string, tf topicsFlags) ([]topics.Spec, error) {
	switch {
	case tf.partitions < 0 || tf.partitions > math.MaxInt32:
		return nil, UsageErrorf("--partitions %d is out of range (1 to %d)", tf.partitions, math.MaxInt32)
	case tf.replication < 0 || tf.replication > math.MaxInt16:
		return nil, UsageErrorf("--replication-factor %d is out of range (1 to %d)", tf.replication, math.MaxInt16)
	case tf.file != "" && len(names) > 0:
		return nil, UsageErrorf("topics create takes topic names or --file, not both")
	}
	var specs []topics.Spec
	switch {
	case tf.file != "":
		data, err := os.ReadFile(tf.file)
		if err != nil {
			return nil, fmt.Errorf("cli: topics create --file: %w", err)
		}
		if specs, err = topics.ParseFile(tf.file, data); err != nil {
			return nil, err
		}
	case len(names) > 0:
		for _, n := range names {
			if !slices.ContainsFunc(specs, func(s topics.Spec) bool { return s.Name == n }) {
				specs = append(specs, e.declared(n))
			}
		}
	default:
		for _, t := range e.Topics {
			specs = append(specs, e.declared(t))
		}
	}
	defaults := topics.Defaults{Partitions: int32(c.Partitions), Replication: int16(c.Replication)}
	for i := range specs {
		s := &specs[i]
		if tf.partitions > 0 {
			s.Partitions = int32(tf.partitions)
		}
		if tf.replication > 0 {
			s.Replication = int16(tf.replication)
		}
		if len(tf.configs) > 0 {
			s.Configs = maps.Clone(s.Configs)
			if s.Configs == nil {
				s.Configs = map[string]string{}
			}
			maps.Copy(s.Configs, tf.configs)
		}
		*s = s.Filled(defaults)
	}
	return specs, nil
}

// createTopics creates the topics of specs that do not exist, printing a
// line per topic, and warns of how existing ones differ from their spec.
func (e Env) createTopics(ctx context.Context, adm *kadm.Client, c Cluster, specs []topics.Spec, io IO) error {
	if len(specs) == 0 {
		fmt.Fprintf(io.Err, "app %s declares no topics: nothing to create (name topics, or pass --file)\n", e.App)
		return nil
	}
	tctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout)
	defer cancel()
	results, err := topics.Ensure(tctx, adm, specs, topics.Defaults{}, true)
	if err != nil {
		return brokerError(ctx, c, err)
	}
	var errs []error
	for _, r := range results {
		switch r.State {
		case topics.Created:
			fmt.Fprintf(io.Out, "created %s (%s)\n", r.Spec.Name, r.Created)
		case topics.Exists:
			fmt.Fprintf(io.Out, "exists %s (%d partitions, replication factor %d)\n", r.Spec.Name, r.Partitions, r.Replication)
			if len(r.Diffs) > 0 {
				fmt.Fprintf(io.Err, "warning: topic %s %s; it is left as it is (make the declaration, the topics settings or the flags "+
					"match it, or alter or re-create the topic with your Kafka tools)\n", r.Spec.Name, diffs(r.Diffs))
			}
		default:
			errs = append(errs, fmt.Errorf("cli: %w", r.Err))
		}
	}
	return errors.Join(errs...)
}

// diffs joins differences: "has 3 partitions, not 6; has retention.ms=1,
// not 2".
func diffs(ds []topics.Diff) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return strings.Join(parts, "; ")
}

// describeTopics prints the named topics, or the app's, and how they
// differ from the app's declarations.
func (e Env) describeTopics(ctx context.Context, adm *kadm.Client, c Cluster, names []string, allConfigs bool, io IO) error {
	tctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout)
	defer cancel()
	if len(names) == 0 {
		var err error
		if names, err = e.appTopics(tctx, adm); err != nil {
			return brokerError(ctx, c, err)
		}
	}
	if len(names) == 0 {
		fmt.Fprintf(io.Err, "app %s declares no topics: name the topics to describe\n", e.App)
		return nil
	}
	ds, err := topics.Describe(tctx, adm, names)
	if err != nil {
		return brokerError(ctx, c, err)
	}
	var declared []topics.Spec
	for _, n := range names {
		if d := e.declared(n); d.Partitions > 0 || d.Replication > 0 || len(d.Configs) > 0 {
			declared = append(declared, d)
		}
	}
	results, err := topics.Ensure(tctx, adm, declared, topics.Defaults{}, false)
	if err != nil {
		return brokerError(ctx, c, err)
	}
	w := bufio.NewWriter(io.Out)
	var missing []string
	var errs []error
	for _, d := range ds {
		switch {
		case d.Missing:
			missing = append(missing, d.Name)
			fmt.Fprintf(w, "%s: does not exist\n", d.Name)
			continue
		case d.Err != nil:
			errs = append(errs, fmt.Errorf("cli: %w", d.Err))
			continue
		}
		fmt.Fprintf(w, "%s: %d partitions, replication factor %d\n", d.Name, len(d.Partitions), d.Replication)
		if i := slices.IndexFunc(results, func(r topics.Result) bool { return r.Spec.Name == d.Name }); i >= 0 && len(results[i].Diffs) > 0 {
			fmt.Fprintf(w, "  differs from the app's declaration: %s\n", diffs(results[i].Diffs))
		}
		for _, cv := range d.Configs {
			switch {
			case cv.Set:
				fmt.Fprintf(w, "  config %s=%s\n", cv.Name, cv.Value)
			case allConfigs:
				fmt.Fprintf(w, "  config %s=%s (default)\n", cv.Name, cv.Value)
			}
		}
		for _, p := range d.Partitions {
			fmt.Fprintf(w, "  partition %d: leader %d, replicas %v, start offset %d, end offset %d\n", p.Partition, p.Leader, p.Replicas, p.Start, p.End)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("cli: topics describe: writing the description: %w", err)
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("cli: topics missing on %s: %s (create them with `%s topics create`, or check the names)",
			strings.Join(c.Brokers, ","), strings.Join(missing, ", "), Binary()))
	}
	return errors.Join(errs...)
}

// appTopics returns the app's topics and the existing topics its patterns
// match.
func (e Env) appTopics(ctx context.Context, adm *kadm.Client) ([]string, error) {
	names := slices.Clone(e.Topics)
	if len(e.Patterns) == 0 {
		return names, nil
	}
	all, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range all.Names() {
		if !slices.Contains(names, t) && e.matches(t) {
			names = append(names, t)
		}
	}
	return names, nil
}

// matches reports whether one of the app's patterns matches topic whole.
func (e Env) matches(topic string) bool {
	for _, p := range e.Patterns {
		if re, err := regexp.Compile("^(?:" + p + ")$"); err == nil && re.MatchString(topic) {
			return true
		}
	}
	return false
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
		if slices.Contains(appTopics, d.Topic) || e.matches(d.Topic) {
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
