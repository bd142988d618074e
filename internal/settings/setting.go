package settings

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind says what shapes a setting's value may take.
type Kind int

const (
	// Scalar is one value.
	Scalar Kind = iota
	// List is a YAML list, or a comma-separated string.
	List
	// Map is name=value entries, merged across layers. Its variables are
	// the Setting's Env followed by the name; its flag is repeatable.
	Map
	// Groups is a list of lists: in YAML a list whose items are lists (or
	// single values); as text, groups separated by ";" and items by ",".
	Groups
)

// A Setting describes one field of the configuration struct C.
type Setting[C any] struct {
	// Key is the YAML key path, nested keys joined with ".":
	// "handler.max_attempts".
	Key string
	// Env is the environment variable; for a Map, the prefix that comes
	// before each entry's name.
	Env string
	// Flag is the flag name, without dashes.
	Flag string
	// Arg says what a value looks like, for flag usage: "duration".
	Arg string
	// Doc is one or two sentences for flag usage and the reference.
	Doc string
	// Default is the default as a user would write it; shown, never
	// parsed by the loader (Reset sets the default).
	Default string
	Kind    Kind
	// Group and Item name the parts of a Groups value in errors: "step",
	// "topic".
	Group, Item string

	// Field returns a pointer to the setting's field of c. It finds zero
	// fields (Table.Complete) and names the field in errors.
	Field func(c *C) any
	// Reset stores the default into c.
	Reset func(c *C)
	// Set parses a value written as text (a variable, a flag, a YAML
	// scalar) into c. Its error describes the value and what is expected;
	// the caller adds where the value came from.
	Set func(c *C, s string) error
	// Get returns the field's value as Set reads it, so that a value set
	// in code can be checked by the same rules. Nil for a Map.
	Get func(c *C) string
	// Put stores one entry of a Map.
	Put func(c *C, name, value string) error
}

// Naming derives the environment variable and flag of key: with prefix
// "EDDY_", "handler.max_attempts" has EDDY_HANDLER_MAX_ATTEMPTS and
// --handler-max-attempts.
func Naming(prefix, key string) (env, flag string) {
	return prefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_")),
		strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

// Duration is a time.Duration setting of at least least.
func Duration[C any](prefix, key string, def, least time.Duration, field func(*C) *time.Duration, doc string) Setting[C] {
	return DurationBetween(prefix, key, def, least, 0, field, doc)
}

// DurationBetween is a time.Duration setting from least to most (0: no
// upper bound).
func DurationBetween[C any](prefix, key string, def, least, most time.Duration, field func(*C) *time.Duration, doc string) Setting[C] {
	bound := "at least " + least.String()
	switch {
	case most > 0:
		bound = "from " + least.String() + " to " + most.String()
	case least == 0:
		bound = "0 or more"
	case least == time.Nanosecond:
		bound = "more than 0"
	}
	return scalar(prefix, key, "duration", def.String(), doc+" Must be "+bound+".", field,
		func(c *C, s string) error {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("%q is not a duration (e.g. 5s, 250ms)", s)
			}
			if d < least || most > 0 && d > most {
				return fmt.Errorf("%q is out of range (must be %s)", s, bound)
			}
			*field(c) = d
			return nil
		},
		func(c *C) string { return field(c).String() },
		func(c *C) { *field(c) = def })
}

// Int is an int setting from least to most (math.MaxInt: no upper bound).
func Int[C any](prefix, key string, def, least, most int, field func(*C) *int, doc string) Setting[C] {
	bound := fmt.Sprintf("at least %d", least)
	if most != math.MaxInt {
		bound = fmt.Sprintf("from %d to %d", least, most)
	}
	return scalar(prefix, key, "int", strconv.Itoa(def), doc+" Must be "+bound+".", field,
		func(c *C, s string) error {
			n, err := strconv.Atoi(s)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return fmt.Errorf("%q is not a whole number", s)
			}
			if err != nil || n < least || n > most {
				return fmt.Errorf("%q is out of range (must be %s)", s, bound)
			}
			*field(c) = n
			return nil
		},
		func(c *C) string { return strconv.Itoa(*field(c)) },
		func(c *C) { *field(c) = def })
}

// Size is a byte size of at least least: a whole number with an optional
// unit (KiB, MiB, GiB, or KB, MB, GB).
func Size[C any](prefix, key string, def, least int64, field func(*C) *int64, doc string) Setting[C] {
	return SizeBetween(prefix, key, def, least, 0, field, doc)
}

// SizeBetween is a byte size from least to most (0: no upper bound),
// written as Size reads it.
func SizeBetween[C any](prefix, key string, def, least, most int64, field func(*C) *int64, doc string) Setting[C] {
	bound := "at least " + FormatSize(least)
	if most > 0 {
		bound = "from " + FormatSize(least) + " to " + FormatSize(most)
	}
	return scalar(prefix, key, "size", FormatSize(def), doc+" "+strings.ToUpper(bound[:1])+bound[1:]+".", field,
		func(c *C, s string) error {
			n, err := ParseSize(s)
			if err != nil {
				return err
			}
			if n < least || most > 0 && n > most {
				return fmt.Errorf("%q is out of range (must be %s)", s, bound)
			}
			*field(c) = n
			return nil
		},
		func(c *C) string { return strconv.FormatInt(*field(c), 10) },
		func(c *C) { *field(c) = def })
}

// ParseSize reads a byte size: "256MiB", "1GB", "1048576".
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(num), strings.ToUpper(u.suffix)) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size (e.g. 256MiB, 1GiB, 1048576)", s)
	}
	return n * mult, nil
}

// FormatSize writes n in the largest binary unit that divides it.
func FormatSize(n int64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n != 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n != 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	default:
		return strconv.FormatInt(n, 10)
	}
}

// Choice is one of choices, given in any case and stored lower-case; the
// first is the default.
func Choice[C any](prefix, key string, choices []string, field func(*C) *string, doc string) Setting[C] {
	return scalar(prefix, key, "name", choices[0], doc+" One of "+strings.Join(choices, ", ")+".", field,
		func(c *C, s string) error {
			v := strings.ToLower(s)
			if !slices.Contains(choices, v) {
				return fmt.Errorf("%q is not one of %s%s", s, strings.Join(choices, ", "), DidYouMean(v, choices))
			}
			*field(c) = v
			return nil
		},
		func(c *C) string { return *field(c) },
		func(c *C) { *field(c) = choices[0] })
}

// String is any text but the empty string.
func String[C any](prefix, key, arg, def string, field func(*C) *string, doc string) Setting[C] {
	return scalar(prefix, key, arg, def, doc, field,
		func(c *C, s string) error {
			if s == "" {
				return errors.New("must not be empty")
			}
			*field(c) = s
			return nil
		},
		func(c *C) string { return *field(c) },
		func(c *C) { *field(c) = def })
}

// Bool is true or false (also 1/0, t/f, yes/no, on/off, in any case).
func Bool[C any](prefix, key string, def bool, field func(*C) *bool, doc string) Setting[C] {
	return scalar(prefix, key, "bool", strconv.FormatBool(def), doc, field,
		func(c *C, s string) error {
			switch strings.ToLower(s) {
			case "1", "t", "true", "yes", "on":
				*field(c) = true
			case "0", "f", "false", "no", "off":
				*field(c) = false
			default:
				return fmt.Errorf("%q is not true or false", s)
			}
			return nil
		},
		func(c *C) string { return strconv.FormatBool(*field(c)) },
		func(c *C) { *field(c) = def })
}

// Strings is a list of non-blank items, comma-separated as text.
func Strings[C any](prefix, key, arg, doc string, field func(*C) *[]string) Setting[C] {
	env, flag := Naming(prefix, key)
	return Setting[C]{
		Key: key, Env: env, Flag: flag, Arg: arg, Doc: doc, Kind: List,
		Field: func(c *C) any { return field(c) },
		Reset: func(c *C) { *field(c) = nil },
		Set:   func(c *C, s string) error { *field(c) = SplitList(s); return nil },
		Get:   func(c *C) string { return strings.Join(*field(c), ",") },
	}
}

// Custom is a scalar setting with its own parser: parse returns the value
// to store or an error saying what is expected; format writes a value as
// parse reads it.
func Custom[C any, T any](prefix, key, arg, def, doc string, field func(*C) *T, defValue T, parse func(string) (T, error), format func(T) string) Setting[C] {
	return scalar(prefix, key, arg, def, doc, field,
		func(c *C, s string) error {
			v, err := parse(s)
			if err == nil {
				*field(c) = v
			}
			return err
		},
		func(c *C) string { return format(*field(c)) },
		func(c *C) { *field(c) = defValue })
}

// scalar builds a Scalar setting whose names derive from key.
func scalar[C any, T any](prefix, key, arg, def, doc string, field func(*C) *T, set func(*C, string) error, get func(*C) string, reset func(*C)) Setting[C] {
	env, flag := Naming(prefix, key)
	return Setting[C]{
		Key: key, Env: env, Flag: flag, Arg: arg, Doc: doc, Default: def, Kind: Scalar,
		Field: func(c *C) any { return field(c) },
		Reset: reset, Set: set, Get: get,
	}
}

// StringMap is a map of free-form values: entries name=value, names
// case-insensitive and stored lower-case so that every layer can override
// every other. Its variables are <prefix><NAME> (envPrefix, e.g.
// "EDDY_SETTING_"), its flag flag (repeatable, name=value).
func StringMap[C any](key, envPrefix, flag, doc string, field func(*C) *map[string]string) Setting[C] {
	put := func(c *C, name, value string) error {
		if name == "" {
			return errors.New("the setting name is empty")
		}
		if *field(c) == nil {
			*field(c) = map[string]string{}
		}
		(*field(c))[strings.ToLower(name)] = value
		return nil
	}
	return Setting[C]{
		Key: key, Env: envPrefix, Flag: flag, Arg: "name=value", Doc: doc, Kind: Map,
		Field: func(c *C) any { return field(c) },
		Reset: func(c *C) { *field(c) = map[string]string{} },
		Set: func(c *C, s string) error {
			name, value, ok := strings.Cut(s, "=")
			if !ok || strings.TrimSpace(name) == "" {
				return fmt.Errorf("%q is not name=value", s)
			}
			return put(c, strings.TrimSpace(name), value)
		},
		Put: put,
	}
}

// GroupList is a list of groups of names: [[a b] [c]], written "a,b;c".
// group and item name the two for errors: "step", "topic".
func GroupList[C any](prefix, key, arg, group, item, doc string, field func(*C) *[][]string) Setting[C] {
	env, flag := Naming(prefix, key)
	return Setting[C]{
		Key: key, Env: env, Flag: flag, Arg: arg, Doc: doc, Kind: Groups, Group: group, Item: item,
		Field: func(c *C) any { return field(c) },
		Reset: func(c *C) { *field(c) = nil },
		Set: func(c *C, s string) error {
			groups, err := ParseGroups(s, group, item)
			if err == nil {
				*field(c) = groups
			}
			return err
		},
		Get: func(c *C) string {
			parts := make([]string, len(*field(c)))
			for i, g := range *field(c) {
				parts[i] = strings.Join(g, ",")
			}
			return strings.Join(parts, ";")
		},
	}
}

// ParseGroups reads "a,b;c" as [[a b] [c]]; blank text is no groups.
// group and item name the two in errors: "step", "topic".
func ParseGroups(s, group, item string) ([][]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var groups [][]string
	for i, part := range strings.Split(s, ";") {
		items := SplitList(part)
		if len(items) == 0 {
			return nil, fmt.Errorf("%q: %s %d names no %s (%ss are separated by ';', %ss by ',')", s, group, i+1, item, group, item)
		}
		groups = append(groups, items)
	}
	return groups, nil
}

// SplitList splits a comma-separated list, dropping blanks around and
// between items.
func SplitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// isZero reports whether s's field of c holds its type's zero value.
func (s *Setting[C]) isZero(c *C) bool {
	return reflect.ValueOf(s.Field(c)).Elem().IsZero()
}
