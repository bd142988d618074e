package stores

import "fmt"

// Batch collects writes for [Store.Apply]. The zero value is an empty batch
// with no checkpoint. A Batch is not safe for concurrent use; reuse it with
// Reset.
type Batch struct {
	ops        []Op
	checkpoint int64
	hasCP      bool
}

// Op is one write of a [Batch]: a set of Key to Value, or a delete of Key.
type Op struct {
	Key   []byte
	Value []byte // nil for a delete; may be empty for a set
	// Delete is true for a delete, false for a set.
	Delete bool
}

// Set records a write of value to key.
//
// The batch keeps key and value without copying them, and the memory store
// keeps them as its data after Apply: the caller must not modify either slice
// after the call. (The tables code hands over slices it no longer touches, so
// a copy would only cost.) A nil value is stored as an empty value.
func (b *Batch) Set(key, value []byte) {
	if value == nil {
		value = []byte{}
	}
	b.ops = append(b.ops, Op{Key: key, Value: value})
}

// Delete records a delete of key. Deleting a missing key is not an error.
// The batch keeps key without copying it, as Set does.
func (b *Batch) Delete(key []byte) {
	b.ops = append(b.ops, Op{Key: key, Delete: true})
}

// SetCheckpoint records the changelog offset the store's data will be
// complete up to once the batch is applied (the next offset to restore from).
// It must not be negative; the last call wins.
func (b *Batch) SetCheckpoint(offset int64) {
	b.checkpoint, b.hasCP = offset, true
}

// Checkpoint returns the checkpoint set with SetCheckpoint, and whether one
// was set.
func (b *Batch) Checkpoint() (int64, bool) {
	return b.checkpoint, b.hasCP
}

// Len returns the number of sets and deletes in the batch (the checkpoint is
// not counted).
func (b *Batch) Len() int {
	return len(b.ops)
}

// Ops returns the batch's writes in the order they were recorded, for Store
// implementations. The slice belongs to the batch: do not modify or keep it.
func (b *Batch) Ops() []Op {
	return b.ops
}

// Empty reports whether applying b would change nothing: no writes and no
// checkpoint.
func (b *Batch) Empty() bool {
	return len(b.ops) == 0 && !b.hasCP
}

// Reset empties the batch and clears its checkpoint, keeping its capacity.
func (b *Batch) Reset() {
	clear(b.ops) // drop references to the caller's slices
	b.ops = b.ops[:0]
	b.checkpoint, b.hasCP = 0, false
}

// Validate reports whether b can be applied: it must not be nil, and its
// checkpoint, if set, must not be negative. Store implementations call it at the start of Apply.
func (b *Batch) Validate() error {
	if b == nil {
		return fmt.Errorf("%w: the batch is nil", ErrInvalidBatch)
	}
	if b.hasCP && b.checkpoint < 0 {
		return fmt.Errorf("%w: checkpoint %d is negative; a checkpoint is the next changelog offset to restore from", ErrInvalidBatch, b.checkpoint)
	}
	return nil
}
