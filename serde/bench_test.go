package serde_test

import (
	"testing"

	"github.com/eddy-streams/eddy/serde"
)

// benchEvent is a small JSON value, the shape of a typical event record.
type benchEvent struct {
	Kind   string `json:"kind"`
	User   string `json:"user"`
	Weight int    `json:"weight"`
	At     int64  `json:"at"`
}

// BenchmarkRoundTrip measures Encode then Decode of one value per codec,
// with the workload's sizes where they apply (16-byte keys, 100-byte
// values). Compare runs with benchstat:
//
//	go test -run NONE -bench RoundTrip -count 10 ./serde > new.txt
func BenchmarkRoundTrip(b *testing.B) {
	value := make([]byte, 100)
	for i := range value {
		value[i] = byte(i)
	}
	for _, bc := range []struct {
		name string
		run  func(*testing.B)
	}{
		{"bytes", func(b *testing.B) { benchRoundTrip(b, serde.Bytes(), value) }},
		{"string", func(b *testing.B) { benchRoundTrip(b, serde.String(), "key-000000012345") }},
		{"json", func(b *testing.B) {
			benchRoundTrip(b, serde.JSON[benchEvent](), benchEvent{Kind: "view", User: "user-42", Weight: 12, At: 1_763_700_000_000})
		}},
		{"int64", func(b *testing.B) { benchRoundTrip(b, serde.Int64(), int64(1)<<40+7) }},
	} {
		b.Run(bc.name, bc.run)
	}
}

// benchRoundTrip encodes and decodes v b.N times, reporting the encoded
// size as bytes/op throughput and the allocations.
func benchRoundTrip[T any](b *testing.B, c serde.Codec[T], v T) {
	enc, err := c.Encode(v)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		enc, err := c.Encode(v)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}
