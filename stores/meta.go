package stores

import (
	"fmt"
	"strings"
)

// Meta identifies what a store holds, so that a store written by an
// incompatible table is refused instead of misread. Persistent backends record
// it when they create a shard and compare it on every later open.
type Meta struct {
	// Table is the table's name. It names the shard's directory, so it is
	// limited to what a Kafka topic name may contain: 1 to 249 of the
	// characters a-z, A-Z, 0-9, '.', '_' and '-', and not "." or "..".
	Table string
	// Partition is the shard's partition (the source partition); not negative.
	Partition int32
	// Schema is free-form: the tables code passes the key and value codec
	// names and a format version. A shard created with another Schema is
	// refused with an [*IncompatibleError].
	Schema string
}

// maxTableLen is Kafka's limit on topic names; a table name is part of its
// changelog topic's name, so it can never usefully be longer.
const maxTableLen = 249

// Validate reports whether m can name a shard: a valid Table and a
// non-negative Partition. Backends call it at the start of Open.
func (m Meta) Validate() error {
	switch {
	case m.Table == "":
		return fmt.Errorf("%w: the table name is empty", ErrInvalidMeta)
	case len(m.Table) > maxTableLen:
		return fmt.Errorf("%w: table name %q is longer than %d characters", ErrInvalidMeta, m.Table, maxTableLen)
	case m.Table == "." || m.Table == "..":
		return fmt.Errorf("%w: table name %q is not allowed", ErrInvalidMeta, m.Table)
	case m.Partition < 0:
		return fmt.Errorf("%w: table %q: partition %d is negative", ErrInvalidMeta, m.Table, m.Partition)
	}
	if i := strings.IndexFunc(m.Table, func(r rune) bool { return !validTableRune(r) }); i >= 0 {
		return fmt.Errorf("%w: table name %q contains %q; use only a-z, A-Z, 0-9, '.', '_' and '-'", ErrInvalidMeta, m.Table, m.Table[i:i+1])
	}
	return nil
}

func validTableRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// String formats m for error messages: table "t" partition 3 schema "s".
func (m Meta) String() string {
	return fmt.Sprintf("table %q partition %d schema %q", m.Table, m.Partition, m.Schema)
}
