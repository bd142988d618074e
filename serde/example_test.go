package serde_test

import (
	"errors"
	"fmt"

	"github.com/eddy-streams/eddy/serde"
)

func ExampleJSON() {
	type Order struct {
		ID  string `json:"id"`
		Qty int    `json:"qty"`
	}
	c := serde.JSON[Order]()

	b, err := c.Encode(Order{ID: "o-1", Qty: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))

	o, err := c.Decode([]byte(`{"id":"o-2","qty":5,"note":"unknown fields are ignored"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v\n", o)

	_, err = c.Decode(nil)
	var fe *serde.FormatError
	fmt.Println(errors.As(err, &fe), err)
	// Output:
	// {"id":"o-1","qty":3}
	// {ID:o-2 Qty:5}
	// true serde: json: empty input (is the record a tombstone?)
}

func ExampleInt64() {
	c := serde.Int64()

	b, _ := c.Encode(-2)
	fmt.Printf("% x\n", b)

	v, _ := c.Decode([]byte{0, 0, 0, 0, 0, 0, 0x01, 0x00})
	fmt.Println(v)

	_, err := c.Decode([]byte{1, 2, 3})
	fmt.Println(err)
	// Output:
	// ff ff ff ff ff ff ff fe
	// 256
	// serde: int64: want 8 bytes, got 3
}
