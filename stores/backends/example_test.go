package backends_test

import (
	"fmt"
	"log"

	"github.com/eddy-streams/eddy/stores"
	"github.com/eddy-streams/eddy/stores/backends"
)

// Open a backend from a store URL, a shard of a table on it, and write a
// batch with its changelog checkpoint.
func ExampleOpen() {
	backend, err := backends.Open("memory://", "", stores.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer backend.Close()

	shard, err := backend.Open(stores.Meta{Table: "page_views", Partition: 0, Schema: "string/int64 v1"})
	if err != nil {
		log.Fatal(err)
	}
	defer shard.Close()

	var b stores.Batch
	b.Set([]byte("home"), []byte("3"))
	b.Set([]byte("about"), []byte("1"))
	b.SetCheckpoint(42) // the next changelog offset to restore from
	if err := shard.Apply(&b); err != nil {
		log.Fatal(err)
	}

	_ = shard.Iterate(nil, nil, func(k, v []byte) bool {
		fmt.Printf("%s=%s\n", k, v)
		return true
	})
	cp, _ := shard.Checkpoint()
	fmt.Println("checkpoint", cp)
	// Output:
	// about=1
	// home=3
	// checkpoint 42
}
