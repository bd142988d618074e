package rocksdb

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/eddy-streams/eddy/stores"
	"github.com/linxGnu/grocksdb"
)

// The column families of a shard, in the order they are opened.
const (
	dataCF = "default"
	sysCF  = "eddy"
)

// Keys of the "eddy" column family.
var (
	metaKey       = []byte("meta")
	checkpointKey = []byte("checkpoint")
)

// metaFormat is the version of the encoding of metaRecord. A shard with a
// newer format was written by a newer Eddy and is refused.
const metaFormat = 1

// metaRecord is a shard's stores.Meta as stored under metaKey.
type metaRecord struct {
	Format    int    `json:"format"`
	Table     string `json:"table"`
	Partition int32  `json:"partition"`
	Schema    string `json:"schema"`
}

func (r metaRecord) meta() stores.Meta {
	return stores.Meta{Table: r.Table, Partition: r.Partition, Schema: r.Schema}
}

func encodeOffset(o int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(o))
}

// dataFile matches the files whose loss loses data: tables and WAL segments.
var dataFile = regexp.MustCompile(`^[0-9]+\.(sst|ldb|log)$`)

// openStore opens or creates the shard at path and checks its meta.
func (b *Backend) openStore(path string, meta stores.Meta, writeBuffer uint64) (*Store, error) {
	exists, err := checkDir(path)
	if err != nil {
		return nil, err
	}
	if !exists {
		if err := os.MkdirAll(path, 0o755); err != nil {
			return nil, fmt.Errorf("stores: rocksdb: create shard directory: %w", err)
		}
	}

	// An existing database lacking the "eddy" column family gets it (an
	// empty family wipes nothing; load then refuses a database holding data
	// without meta), which also completes a shard whose creation was
	// interrupted. One with other column families is not a shard.
	dbOpts, dataOpts, sysOpts := b.options(writeBuffer)
	db, cfs, err := grocksdb.OpenDbColumnFamilies(dbOpts, path, []string{dataCF, sysCF}, []*grocksdb.Options{dataOpts, sysOpts})
	if err != nil {
		dbOpts.Destroy()
		dataOpts.Destroy()
		sysOpts.Destroy()
		if strings.Contains(err.Error(), "Column families not opened") {
			return nil, &stores.IncompatibleError{Path: path, Want: meta,
				Reason: fmt.Sprintf("is a RocksDB database with other column families than an Eddy shard's (%v)", err)}
		}
		return nil, classifyOpen(path, err)
	}
	s := &Store{
		backend:     b,
		path:        path,
		meta:        meta,
		db:          db,
		data:        cfs[0],
		sys:         cfs[1],
		opts:        []*grocksdb.Options{dbOpts, dataOpts, sysOpts},
		ro:          grocksdb.NewDefaultReadOptions(),
		wo:          grocksdb.NewDefaultWriteOptions(),
		wb:          grocksdb.NewWriteBatch(),
		writeBuffer: writeBuffer,
	}
	s.wo.SetSync(false)
	if err := s.load(meta); err != nil {
		s.closeDB()
		return nil, err
	}
	return s, nil
}

// options returns the options of a shard's DB and of its two column families.
func (b *Backend) options(writeBuffer uint64) (dbOpts, dataOpts, sysOpts *grocksdb.Options) {
	dbOpts = grocksdb.NewDefaultOptions()
	dbOpts.SetCreateIfMissing(true)
	dbOpts.SetCreateIfMissingColumnFamilies(true)
	// RocksDB's own LOG files: warnings only, and few of them per shard.
	dbOpts.SetInfoLogLevel(grocksdb.WarnInfoLogLevel)
	dbOpts.SetKeepLogFileNum(2)
	dbOpts.SetMaxLogFileSize(1 << 20)
	// Background threads come from RocksDB's process-wide pools, sized to
	// the largest request: 1 flush and 3 compaction threads in all.
	dbOpts.SetMaxBackgroundJobs(4)

	dataOpts = grocksdb.NewDefaultOptions()
	dataOpts.SetBlockBasedTableFactory(b.table)
	dataOpts.SetWriteBufferSize(writeBuffer)
	dataOpts.SetMaxWriteBufferNumber(writeBuffers)

	// The "eddy" family must use the shared cache too: without one, RocksDB
	// would give it a private 8 MiB cache per shard.
	sysOpts = grocksdb.NewDefaultOptions()
	sysOpts.SetBlockBasedTableFactory(b.table)
	sysOpts.SetWriteBufferSize(sysWriteBuffer)
	sysOpts.SetMaxWriteBufferNumber(writeBuffers)
	return dbOpts, dataOpts, sysOpts
}

// checkDir reports whether path holds a RocksDB database (a CURRENT file). A
// directory with data files but no CURRENT is corrupt: letting RocksDB create
// a new database there would hide the old data.
func checkDir(path string) (exists bool, err error) {
	entries, err := os.ReadDir(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stores: rocksdb: shard directory: %w", err)
	}
	var data []string
	for _, e := range entries {
		if e.Name() == "CURRENT" {
			return true, nil
		}
		if dataFile.MatchString(e.Name()) {
			data = append(data, e.Name())
		}
	}
	if len(data) > 0 {
		return false, &stores.CorruptError{Path: path,
			Err: fmt.Errorf("the CURRENT file is missing but data files are present (%s)", data[0])}
	}
	return false, nil
}

// load reads the shard's meta (recording it in a new shard) and checkpoint.
func (s *Store) load(want stores.Meta) error {
	raw, err := s.getSys(metaKey)
	if err != nil {
		return s.wrap("open: read meta", err)
	}
	cp := stores.NoCheckpoint
	rawCP, err := s.getSys(checkpointKey)
	if err != nil {
		return s.wrap("open: read checkpoint", err)
	}
	if rawCP != nil {
		if len(rawCP) != 8 {
			return &stores.CorruptError{Path: s.path, Err: fmt.Errorf("the checkpoint is %d bytes long, not 8", len(rawCP))}
		}
		cp = int64(binary.BigEndian.Uint64(rawCP))
	}

	if raw == nil {
		// A new shard, or one whose creation was interrupted before its
		// meta was written: adopt it only if it holds nothing.
		if rawCP != nil || !s.emptyData() {
			return &stores.IncompatibleError{Path: s.path, Want: want,
				Reason: "holds data but no meta: it was not written by Eddy"}
		}
		rec, _ := json.Marshal(metaRecord{Format: metaFormat, Table: want.Table, Partition: want.Partition, Schema: want.Schema})
		wo := grocksdb.NewDefaultWriteOptions()
		defer wo.Destroy()
		wo.SetSync(true) // once per shard: a shard never exists without its meta
		if err := s.db.PutCF(wo, s.sys, metaKey, rec); err != nil {
			return s.wrap("open: write meta", err)
		}
		s.checkpoint.Store(cp)
		return nil
	}

	var rec metaRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return &stores.CorruptError{Path: s.path, Err: fmt.Errorf("its meta record %q: %w", raw, err)}
	}
	if rec.Format > metaFormat {
		return &stores.IncompatibleError{Path: s.path, Want: want, Found: rec.meta(),
			Reason: fmt.Sprintf("was written by a newer Eddy (meta format %d; this one reads up to %d)", rec.Format, metaFormat)}
	}
	if rec.meta() != want {
		return &stores.IncompatibleError{Path: s.path, Want: want, Found: rec.meta()}
	}
	s.checkpoint.Store(cp)
	return nil
}

// getSys returns a copy of key's value in the "eddy" column family, or nil.
func (s *Store) getSys(key []byte) ([]byte, error) {
	h, err := s.db.GetPinnedCF(s.ro, s.sys, key)
	if err != nil {
		return nil, err
	}
	defer h.Destroy()
	if !h.Exists() {
		return nil, nil
	}
	return append([]byte{}, h.Data()...), nil
}

// emptyData reports whether the data column family holds no key.
func (s *Store) emptyData() bool {
	it := s.db.NewIteratorCF(s.ro, s.data)
	defer it.Close()
	it.SeekToFirst()
	return !it.Valid()
}

// classifyOpen turns an error of opening the shard at path into a
// *stores.LockedError or *stores.CorruptError where it is one.
func classifyOpen(path string, err error) error {
	if c := classify(path, err); c != nil {
		return c
	}
	return fmt.Errorf("stores: rocksdb: open %s: %w", path, err)
}
