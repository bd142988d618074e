package runtime

import (
	"fmt"
	"slices"

	"github.com/eddy-streams/eddy/serde"
)

// Output is a typed sink: it encodes keys and values with its codecs and
// produces to one of the topics it was declared with. Declared topics are
// created by `topics create` and by the embedded broker. An Output is safe
// for concurrent use.
type Output[K, V any] struct {
	keys   serde.Codec[K]
	values serde.Codec[V]
	topics []string
}

// NewOutput declares an output of app to topics, with codecs for keys and
// values. Problems (no topics, nil codecs) are reported by App.Run.
func NewOutput[K, V any](app *App, keys serde.Codec[K], values serde.Codec[V], topics ...string) *Output[K, V] {
	switch {
	case len(topics) == 0:
		app.errorf("runtime: NewOutput needs at least one topic")
	case keys == nil || values == nil:
		app.errorf("runtime: NewOutput(%v): key and value codecs are required", topics)
	}
	app.outputs = append(app.outputs, topics...)
	return &Output[K, V]{keys: keys, values: values, topics: topics}
}

// Produce encodes key and value and produces them to topic, which must be
// one the Output was declared with; see Context.Produce for delivery.
func (o *Output[K, V]) Produce(ctx *Context, topic string, key K, value V, headers ...Header) error {
	v, err := o.values.Encode(value)
	if err != nil {
		return fmt.Errorf("runtime: output to %s: encode value: %w", topic, err)
	}
	return o.produce(ctx, topic, key, v, headers)
}

// ProduceTombstone produces a record with a null value for key to topic.
func (o *Output[K, V]) ProduceTombstone(ctx *Context, topic string, key K, headers ...Header) error {
	return o.produce(ctx, topic, key, nil, headers)
}

func (o *Output[K, V]) produce(ctx *Context, topic string, key K, value []byte, headers []Header) error {
	if !slices.Contains(o.topics, topic) {
		return fmt.Errorf("%w: %q (declared: %v)", ErrUndeclaredOutput, topic, o.topics)
	}
	k, err := o.keys.Encode(key)
	if err != nil {
		return fmt.Errorf("runtime: output to %s: encode key: %w", topic, err)
	}
	return ctx.Produce(&Record{Topic: topic, Key: k, Value: value, Headers: headers})
}
