package runtime

import (
	"fmt"
	"regexp"

	"github.com/eddy-streams/eddy/internal/group"
	"github.com/eddy-streams/eddy/serde"
)

// HandlePattern registers h for every topic whose whole name matches the
// regular expression pattern (Go's syntax; "events-.*" matches
// "events-eu" but not "old-events-eu"), those that exist when the worker
// starts and those created while it runs: the worker finds a new topic at
// its next metadata refresh (metadata_max_age, default 5m) and its group
// rebalances to consume it. It decodes keys and values with the given
// codecs, like Handle.
//
// A topic registered by name with Handle goes to that handler, even if a
// pattern matches it; a topic that several patterns match goes to the
// first registered. A pattern may match the app's own outputs, or the
// topics its global tables follow: it then consumes them too, as Kafka's
// pattern subscriptions do; internal topics (__consumer_offsets) never
// match.
//
// Matched topics are not known at start, so an app with patterns cannot
// have tables other than global ones (tables are sharded by source
// partition, which needs every source topic's partition count at start),
// nor a step plan (which holds back every topic but a step's); they are
// not created by `topics create` nor the embedded broker, and are left
// out of SourceTopics and Topics. Problems (an invalid pattern, the same
// pattern twice, nil codecs or handler, a mistyped hook, tables) are
// reported by App.Run.
func HandlePattern[K, V any](app *App, h Handler[K, V], keys serde.Codec[K], values serde.Codec[V], pattern string) {
	label := func(name string) string {
		if name == "" {
			return fmt.Sprintf("HandlePattern(%q)", pattern)
		}
		return fmt.Sprintf("HandlePattern(%s, %q)", name, pattern)
	}
	var re *regexp.Regexp
	check := func(name string) error {
		if pattern == "" {
			return fmt.Errorf("runtime: %s: the pattern is empty: pass a regular expression of topic names, such as \"events-.*\"", label(name))
		}
		var err error
		if re, err = regexp.Compile(group.Anchor(pattern)); err != nil {
			return fmt.Errorf("runtime: %s: not a regular expression: %w", label(name), err)
		}
		for _, r := range app.patterns {
			if r.topic == pattern {
				return fmt.Errorf("runtime: pattern %q has two handlers: %s and %s", pattern, r.handler, name)
			}
		}
		return nil
	}
	name, starters, build, ok := prepareHandler(app, label, check, h, keys, values)
	if !ok {
		return
	}
	// topic keeps the pattern as given, for messages and the client.
	app.patterns = append(app.patterns, &route{topic: pattern, pattern: re, handler: name, starters: starters, build: build})
}

// Patterns returns the regular expressions that HandlePattern registered,
// as given, in registration order. Each matches whole topic names.
func (a *App) Patterns() []string {
	ps := make([]string, len(a.patterns))
	for i, r := range a.patterns {
		ps[i] = r.topic
	}
	return ps
}

// checkPatterns reports what cannot be combined with pattern subscriptions.
func (a *App) checkPatterns() error {
	if len(a.patterns) == 0 {
		return nil
	}
	if len(a.changelogs()) > 0 {
		return fmt.Errorf("runtime: app %q has pattern subscriptions (%q) and tables, which are sharded by source partition: "+
			"the partition counts of topics a pattern matches later cannot be checked at start; "+
			"register the topics by name with Handle, or use only global tables", a.name, a.Patterns())
	}
	return nil
}
