// Package telemetry is a worker's metrics and traces: OpenTelemetry
// instruments exported through Prometheus (or a MeterProvider the app
// gives), consumer spans that continue the trace a record carries in its
// headers, and the Kafka client's own metrics (kotel). The record path
// costs no metric call: per-partition counters are atomics, and handler
// latencies a fixed-bucket histogram, both read at collection time.
//
// Package runtime makes one Telemetry per worker run; package actors
// reports engine events to it as its Observer.
package telemetry
