package actors

import "sync"

// fetchControl is the part of *kgo.Client that backpressure uses.
type fetchControl interface {
	PauseFetchPartitions(map[string][]int32) map[string][]int32
	ResumeFetchPartitions(map[string][]int32)
}

// flow bounds the records of one partition that were fetched but not yet
// handled. The fetch loop adds, the partition actor releases; whichever
// crosses a bound pauses or resumes fetching, under mu so the two never
// race into a paused partition nobody resumes.
type flow struct {
	tp       TopicPartition
	ctl      fetchControl
	high     int
	low      int
	mu       sync.Mutex // guards inflight and paused
	inflight int
	paused   bool
	hwm      int64 // high watermark seen on the last fetch; guarded by mu
	first    int64 // offset of the first record fetched; guarded by mu
}

func newFlow(tp TopicPartition, ctl fetchControl, maxInFlight int) *flow {
	return &flow{tp: tp, ctl: ctl, high: maxInFlight, low: maxInFlight / 2, hwm: -1, first: -1}
}

// add counts n fetched records, the first at offset first, and pauses the
// partition past the bound.
func (f *flow) add(n int, first, hwm int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inflight += n
	if f.first < 0 {
		f.first = first
	}
	if hwm >= 0 {
		f.hwm = hwm
	}
	if !f.paused && f.inflight >= f.high {
		f.paused = true
		f.ctl.PauseFetchPartitions(f.tp.asMap())
	}
}

// release uncounts n records (handled or dropped) and resumes the partition
// once its backlog is down to the low bound.
func (f *flow) release(n int) {
	if n == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inflight -= n
	if f.paused && f.inflight <= f.low {
		f.paused = false
		f.ctl.ResumeFetchPartitions(f.tp.asMap())
	}
}

// close resumes the partition if this flow paused it, so a later owner of
// the partition starts unpaused.
func (f *flow) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paused {
		f.paused = false
		f.ctl.ResumeFetchPartitions(f.tp.asMap())
	}
	f.inflight = 0
}

// observe records a high watermark learnt without records: from a fetch
// that brought none, or from the brokers' end offsets.
func (f *flow) observe(hwm int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if hwm > f.hwm {
		f.hwm = hwm
	}
}

func (f *flow) state() (inflight int, paused bool, first, hwm int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inflight, f.paused, f.first, f.hwm
}
