package runtime

import (
	"context"
	"fmt"
	"strings"

	"github.com/eddy-streams/eddy/serde"
)

// Stage is a reusable step in front of a handler, like bspump's
// processors: filters, enrichments, normalisations that several handlers
// share. A stage sees each decoded message, in order, after decoding and
// before the handler's own DidReceive: it returns the message to pass on
// (msg itself, changed, or a new one), nil to drop the record (counted as
// dropped, reported to OnFinished with Dropped), or an error for the
// record's error path. In bulk mode stages run per record, before
// DidReceiveBulk.
//
// A stage may implement Starter: its OnStart runs at start-up with the
// handler's, for example to read settings. Stages are called from the
// partition's handler actor, so one stage value may be called
// concurrently for different partitions, never for one partition.
type Stage[K, V any] interface {
	Process(ctx *Context, msg *Message[K, V]) (*Message[K, V], error)
}

// StageFunc adapts a function to a Stage.
type StageFunc[K, V any] func(ctx *Context, msg *Message[K, V]) (*Message[K, V], error)

// Process calls f.
func (f StageFunc[K, V]) Process(ctx *Context, msg *Message[K, V]) (*Message[K, V], error) {
	return f(ctx, msg)
}

// WithStages puts stages in front of h; register the result with Handle.
// The handler keeps every hook it has (the result is recognised by Handle,
// not wrapped around h):
//
//	runtime.Handle(app, runtime.WithStages(h, runtime.DropKeys[string, Event]("bot-1"), normalise),
//		serde.String(), serde.JSON[Event](), "events")
func WithStages[K, V any](h Handler[K, V], stages ...Stage[K, V]) Handler[K, V] {
	if s, ok := h.(*staged[K, V]); ok {
		return &staged[K, V]{h: s.h, stages: append(append([]Stage[K, V]{}, s.stages...), stages...)}
	}
	return &staged[K, V]{h: h, stages: stages}
}

// staged is a handler with stages in front of it.
type staged[K, V any] struct {
	h      Handler[K, V]
	stages []Stage[K, V]
}

// OnMessage runs the stages and the handler, for a staged handler called
// outside Handle (in a unit test, say).
func (s *staged[K, V]) OnMessage(ctx *Context, msg *Message[K, V]) error {
	for _, st := range s.stages {
		m, err := st.Process(ctx, msg)
		if err != nil || m == nil {
			return err
		}
		msg = m
	}
	return s.h.OnMessage(ctx, msg)
}

// KeyFilter keeps, or drops, the records whose key is in a set, like
// bspump's KafkaKeyFilter. The set is given in code, read from an app
// setting at start (FromSetting), or both. Dropped records count as
// dropped. A KeyFilter placed first among the stages runs before the
// value is decoded, so filtering costs no value decoding. It is safe for
// concurrent use once the app runs.
type KeyFilter[K comparable, V any] struct {
	keep    bool
	keys    map[K]struct{}
	setting string
}

// KeepKeys is a KeyFilter that passes only records with one of keys.
func KeepKeys[K comparable, V any](keys ...K) *KeyFilter[K, V] {
	return newKeyFilter[K, V](true, keys)
}

// DropKeys is a KeyFilter that drops the records with one of keys.
func DropKeys[K comparable, V any](keys ...K) *KeyFilter[K, V] {
	return newKeyFilter[K, V](false, keys)
}

func newKeyFilter[K comparable, V any](keep bool, keys []K) *KeyFilter[K, V] {
	f := &KeyFilter[K, V]{keep: keep, keys: make(map[K]struct{}, len(keys))}
	for _, k := range keys {
		f.keys[k] = struct{}{}
	}
	return f
}

// FromSetting adds to the set, at start, the keys listed in the app
// setting name (settings.<name> in the config file, EDDY_SETTING_<NAME>, or
// --set name=...), comma-separated. A key is read as the text it is for
// string keys, in decimal for integer keys, and as JSON otherwise. A
// setting that is absent adds nothing; one that does not parse stops the
// start with an error naming it. Call it before the app runs.
func (f *KeyFilter[K, V]) FromSetting(name string) *KeyFilter[K, V] {
	f.setting = strings.ToLower(name)
	return f
}

// OnStart reads the setting named by FromSetting.
func (f *KeyFilter[K, V]) OnStart(_ context.Context, cfg Config) error {
	if f.setting == "" {
		return nil
	}
	text, ok := cfg.Settings[f.setting]
	if !ok {
		return nil
	}
	for _, item := range strings.Split(text, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		k, err := serde.ParseText[K](item)
		if err != nil {
			return fmt.Errorf("runtime: key filter: setting %q: %w", f.setting, err)
		}
		f.keys[k] = struct{}{}
	}
	return nil
}

// passes reports whether the filter lets a record with key through.
func (f *KeyFilter[K, V]) passes(key K) bool {
	_, in := f.keys[key]
	return in == f.keep
}

// Process drops the message unless its key passes.
func (f *KeyFilter[K, V]) Process(_ *Context, msg *Message[K, V]) (*Message[K, V], error) {
	if !f.passes(msg.Key) {
		return nil, nil
	}
	return msg, nil
}

// keyStage is a stage that decides on the key alone.
type keyStage[K any] interface{ passes(key K) bool }
