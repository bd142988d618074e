package serde

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// ParseText reads the text form of a value of T, as a user types it in a
// URL or a setting: a string or []byte as it is, an integer in decimal,
// anything else as JSON.
func ParseText[T any](s string) (T, error) {
	var v T
	var err error
	switch p := any(&v).(type) {
	case *string:
		*p = s
	case *[]byte:
		*p = []byte(s)
	case *int64:
		*p, err = strconv.ParseInt(s, 10, 64)
	case *int32:
		var n int64
		n, err = strconv.ParseInt(s, 10, 32)
		*p = int32(n)
	case *int:
		*p, err = strconv.Atoi(s)
	default:
		err = json.Unmarshal([]byte(s), &v)
	}
	if err != nil {
		return v, fmt.Errorf("%q is not a %T: %w", s, v, err)
	}
	return v, nil
}
