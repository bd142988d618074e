package group

import (
	"cmp"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer tunes what a session's client produces: handlers' outputs and
// table changelogs. Zero fields keep franz-go's defaults, but for
// DeliveryTimeout, whose zero is Eddy's 2 minutes.
type Producer struct {
	// Acks is "all" (idempotent writes), "leader" or "none"; the last two
	// turn idempotent writes off, which franz-go requires.
	Acks string
	// Linger is how long a partition's records wait for more before
	// their batch is sent.
	Linger time.Duration
	// BatchMaxBytes caps a record batch before compression.
	BatchMaxBytes int32
	// Compression is "none", "gzip", "snappy", "lz4" or "zstd".
	Compression string
	// DeliveryTimeout fails a record not acknowledged within it.
	DeliveryTimeout time.Duration
	// MaxBufferedRecords bounds the records produced and not yet
	// acknowledged; Produce blocks beyond it.
	MaxBufferedRecords int
}

// defaultDeliveryTimeout: without a delivery timeout a record is retried
// for as long as the brokers are down, holding its source offset (and
// memory) with it. Two minutes rides out a broker restart or leader
// election; a longer outage fails the record, which stops the worker with
// an error that names it, rather than leaving it silently stuck.
const defaultDeliveryTimeout = 2 * time.Minute

// Options are the client options p asks for: the worker's group client
// takes them, and so does the produce tool.
func (p Producer) Options() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.RecordDeliveryTimeout(cmp.Or(p.DeliveryTimeout, defaultDeliveryTimeout))}
	switch p.Acks {
	case "", "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "leader":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "none":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, fmt.Errorf("group: unknown producer acks %q (want all, leader or none)", p.Acks)
	}
	if p.Compression != "" {
		codec, ok := map[string]kgo.CompressionCodec{
			"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
			"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
		}[p.Compression]
		if !ok {
			return nil, fmt.Errorf("group: unknown producer compression %q (want none, gzip, snappy, lz4 or zstd)", p.Compression)
		}
		// Uncompressed to a broker too old for the codec, as franz-go's
		// default (snappy, none) does.
		opts = append(opts, kgo.ProducerBatchCompression(codec, kgo.NoCompression()))
	}
	if p.Linger > 0 {
		opts = append(opts, kgo.ProducerLinger(p.Linger))
	}
	if p.BatchMaxBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(p.BatchMaxBytes))
	}
	if p.MaxBufferedRecords > 0 {
		opts = append(opts, kgo.MaxBufferedRecords(p.MaxBufferedRecords))
	}
	return opts, nil
}
