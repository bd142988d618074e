package cli

import (
	"bytes"
	"testing"
)

func TestProduceLineFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line       string
		skip       bool
		key, value []byte // nil means null
	}{
		{line: "", skip: true},
		{line: "k\tv", key: []byte("k"), value: []byte("v")},
		{line: "k\tv\twith\ttabs", key: []byte("k"), value: []byte("v\twith\ttabs")},
		{line: "no key", value: []byte("no key")},
		{line: "k\t\\N", key: []byte("k")},
		{line: "\\N"},
		{line: "k\t", key: []byte("k"), value: []byte{}},
		{line: "\tv", key: []byte{}, value: []byte("v")},
		{line: "k\t\\Nx", key: []byte("k"), value: []byte("\\Nx")},
	} {
		rec := parseLine("t", []byte(tc.line))
		if tc.skip {
			if rec != nil {
				t.Errorf("%q: got a record, want the line skipped", tc.line)
			}
			continue
		}
		if rec == nil {
			t.Errorf("%q: skipped, want a record", tc.line)
			continue
		}
		for _, part := range []struct {
			name      string
			got, want []byte
		}{{"key", rec.Key, tc.key}, {"value", rec.Value, tc.value}} {
			if (part.got == nil) != (part.want == nil) || !bytes.Equal(part.got, part.want) {
				t.Errorf("%q: %s = %q (null: %t), want %q (null: %t)",
					tc.line, part.name, part.got, part.got == nil, part.want, part.want == nil)
			}
		}
	}
}
