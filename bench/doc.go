// Command bench is Eddy's benchmark harness: whole-system figures, each
// measured against a baseline run in the same invocation on the same
// machine, so that the ratios, not the absolute numbers, are what we track
// (issue 6). `make bench` runs it in full, `make bench-quick` briefly:
//
//	go run ./bench                      # 2,000,000 records, 3 runs per scenario
//	go run ./bench --quick              # 200,000 records, 1 run
//	go run ./bench --only 'count|raw'   # some scenarios (and their baselines)
//
// Without --brokers it starts an in-process kfake broker (retention and
// compaction off, so that every topic holds what was written to it); with
// --brokers it creates its topics there and deletes them at the end. A
// secure cluster takes the settings a worker takes, from --config FILE
// (Eddy's YAML) and EDDY_* variables, resolved by config.Load:
// brokers (when --brokers is not given), security_protocol, tls.*, sasl.*
// and client_id reach every client, app and the rss worker process. It
// loads the workload (records with 16-byte keys drawn uniformly from
// 100,000 with a fixed seed, 100-byte values, 8 partitions), runs every
// scenario --runs times, and writes the median, the spread (min..max) and
// the ratio of the medians of each scenario and its baseline to
// bench/results.json and, as a Markdown table for BENCHMARKS.md, to
// bench/results.md.
//
// The scenarios are a table (see scenarios): the baselines raw-consume (a
// franz-go group consumer counting records), raw-produce (a franz-go
// producer writing the workload) and raw-rocksdb (grocksdb WriteBatch puts
// of the workload, 1000 a batch), then Eddy apps built with package
// runtime's public API only: single (a stateless counting handler, single
// mode forced), memory-count and rocksdb-count (Get then Set(n+1) per key
// in a table), restore-memory and restore-rocksdb (a worker restoring a
// changelog into empty stores until it is ready), latency (end-to-end
// latency at a fixed produce rate) and rss (the peak RSS of a worker
// process working off a backlog). Every app runs with HTTP off, logs
// silenced and a consumer group of its own, so that each run consumes from
// the start; all but single run in the runtime's default mode (auto).
//
// The rss scenario keeps the broker out of the figure: it re-executes this
// binary as a child with the hidden subcommand "worker", pointed at the
// parent's brokers, and the child reports its own peak RSS (VmHWM from
// /proc/self/status, so Linux only) as it exits. Its rusage would not do:
// see backlog.run.
//
// raw-rocksdb imports grocksdb directly, the one place outside
// stores/rocksdb that does: a baseline must bypass Eddy's store to be the
// physical limit it is compared with.
package main
