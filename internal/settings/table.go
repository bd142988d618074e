package settings

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
)

// Table is the whole description of a configuration struct C: its
// settings, how its variables are named, and the checks that involve more
// than one setting. A Table is read-only once built; its methods are safe
// for concurrent use.
type Table[C any] struct {
	// Settings, in the order the reference lists them: one per field of C.
	Settings []Setting[C]
	// ErrPrefix starts every error: "runtime: config".
	ErrPrefix string
	// EnvPrefix starts every variable of the table: "EDDY_". A variable
	// with the prefix that names no setting is an error.
	EnvPrefix string
	// FileEnv is the variable that names the YAML file: "EDDY_CONFIG".
	// The flag --config names it too, and wins.
	FileEnv string
	// FileHint ends the error of an unknown key in the file when no known
	// key is close: where such values belong instead.
	FileHint string
	// EnvHint returns the end of the error of an unknown variable when no
	// known variable is close.
	EnvHint func(name string) string
	// Validate checks what no single setting can check alone, and may
	// derive values (a default that follows another setting). from tells
	// where each setting's value came from. Optional.
	Validate func(c *C, from Sources) []Problem
}

// Sources says where each setting's value came from, by key: "--flag",
// "EDDY_VAR", "file.yaml: key", "Config.Field"; absent for a default.
type Sources map[string]string

// Problem is a value that is wrong, and where it came from.
type Problem struct {
	Source string
	Err    error
}

// Defaults returns a C holding every setting's default.
func (t *Table[C]) Defaults() C {
	var c C
	for i := range t.Settings {
		t.Settings[i].Reset(&c)
	}
	return c
}

// Complete checks a C built in code, as a program hands it to a Run
// method: fields left at their zero value take their defaults, and every
// other value must pass the checks a value from a file or a flag passes,
// then Validate's. fieldName names C's fields in errors ("Config").
func (t *Table[C]) Complete(c *C, typeName string) error {
	from := Sources{}
	var errs []error
	for i := range t.Settings {
		s := &t.Settings[i]
		if s.isZero(c) {
			s.Reset(c)
			continue
		}
		src := typeName + "." + fieldName(c, s.Field(c))
		from[s.Key] = src
		if s.Get == nil {
			continue
		}
		if err := s.Set(c, s.Get(c)); err != nil {
			errs = append(errs, t.errorf(src+" ("+s.Key+")", err))
		}
	}
	if t.Validate != nil {
		for _, p := range t.Validate(c, from) {
			errs = append(errs, t.errorf(p.Source, p.Err))
		}
	}
	return errors.Join(errs...)
}

// fieldName finds the name of the field of *c that ptr points to.
func fieldName[C any](c *C, ptr any) string {
	v := reflect.ValueOf(c).Elem()
	p := reflect.ValueOf(ptr).Pointer()
	for i := range v.NumField() {
		if v.Field(i).Addr().Pointer() == p {
			return v.Type().Field(i).Name
		}
	}
	return "?"
}

func (t *Table[C]) errorf(source string, err error) error {
	if source == "" {
		return fmt.Errorf("%s: %w", t.ErrPrefix, err)
	}
	return fmt.Errorf("%s: %s: %w", t.ErrPrefix, source, err)
}

// A Loader resolves a C from the YAML file, the environment and the flags
// that Bind registered. One goroutine uses it: Bind, parse the flag set,
// then Load once.
type Loader[C any] struct {
	t      *Table[C]
	fs     *flag.FlagSet
	file   flagValues             // --config
	values map[string]*flagValues // by flag name
}

// flagValues records every value a flag was given. Parsing waits for Load,
// so that a bad flag is reported with every other problem, not alone by
// the flag set's Parse.
type flagValues []string

func (v *flagValues) String() string {
	if v == nil {
		return ""
	}
	return strings.Join(*v, ",")
}

func (v *flagValues) Set(s string) error {
	*v = append(*v, s)
	return nil
}

// Bind registers --config and one flag per setting on fs; call Load after
// fs.Parse.
func (t *Table[C]) Bind(fs *flag.FlagSet) *Loader[C] { return t.BindOnly(fs, nil) }

// BindOnly is Bind with flags only for the settings keep accepts (by key;
// nil keeps all): a command that uses some settings shows only those in
// its usage. Load still reads every setting from the file and the
// environment, which a worker and its tools share. A flag fs already has
// keeps its meaning too: its setting then has no flag on fs (a
// subcommand's own flag of the same name shadows the setting's).
func (t *Table[C]) BindOnly(fs *flag.FlagSet, keep func(key string) bool) *Loader[C] {
	l := &Loader[C]{t: t, fs: fs, values: map[string]*flagValues{}}
	fs.Var(&l.file, "config", "YAML config `file` (env: "+t.FileEnv+"; default: none)")
	for _, s := range t.Settings {
		if keep != nil && !keep(s.Key) || fs.Lookup(s.Flag) != nil {
			continue
		}
		v := new(flagValues)
		l.values[s.Flag] = v
		fs.Var(v, s.Flag, FlagUsage(s))
	}
	return l
}

// Load resolves defaults < config file < environment < flags. Only flags
// the user set count. environ holds "KEY=VALUE" strings as os.Environ
// returns them; where a key repeats, the first wins, as with os.Getenv.
// An empty value counts as unset. Load reports every problem it finds,
// joined, and then returns the zero C.
func (l *Loader[C]) Load(environ []string) (C, error) {
	r := &resolver[C]{t: l.t, c: l.t.Defaults(), from: Sources{}}
	env := envVars(l.t.EnvPrefix, environ)

	var setFlags []string
	l.fs.Visit(func(f *flag.Flag) { setFlags = append(setFlags, f.Name) })

	// The file first, so that the layers above override it.
	path, via := "", ""
	if slices.Contains(setFlags, "config") {
		path, via = l.file[len(l.file)-1], "--config"
	} else if i := slices.IndexFunc(env, func(kv envVar) bool { return kv.name == l.t.FileEnv }); i >= 0 {
		path, via = env[i].value, l.t.FileEnv
	}
	if path != "" {
		if data, err := os.ReadFile(path); err != nil {
			r.fail(via, err)
		} else {
			r.loadYAML(path, data)
		}
	}

	r.loadEnv(env)

	for _, name := range setFlags {
		i := slices.IndexFunc(l.t.Settings, func(s Setting[C]) bool { return s.Flag == name })
		bound, ok := l.values[name]
		if i < 0 || !ok {
			continue // --config, or a flag that is not a setting's
		}
		s, values := &l.t.Settings[i], *bound
		if s.Kind != Map {
			values = values[len(values)-1:] // the last one wins
		}
		for _, v := range values {
			r.apply(s, "--"+s.Flag, v)
		}
	}

	if l.t.Validate != nil {
		for _, p := range l.t.Validate(&r.c, r.from) {
			r.fail(p.Source, p.Err)
		}
	}
	if err := errors.Join(r.errs...); err != nil {
		var zero C
		return zero, err
	}
	return r.c, nil
}

// A resolver accumulates a C layer by layer, with every problem found.
type resolver[C any] struct {
	t    *Table[C]
	c    C
	from Sources
	errs []error
}

func (r *resolver[C]) fail(source string, err error) {
	r.errs = append(r.errs, r.t.errorf(source, err))
}

// apply parses one textual value of s that came from source.
func (r *resolver[C]) apply(s *Setting[C], source, value string) {
	if s.Kind != Map {
		// Free-form values keep their blanks; for the rest they are noise
		// (a trailing space in an env file).
		value = strings.TrimSpace(value)
	}
	if err := s.Set(&r.c, value); err != nil {
		r.fail(source, err)
		return
	}
	r.from[s.Key] = source
}

type envVar struct{ name, value string }

// envVars returns the variables of environ that start with prefix, sorted
// by name so that errors come in a stable order; where a name repeats the
// first wins.
func envVars(prefix string, environ []string) []envVar {
	var out []envVar
	seen := map[string]bool{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, prefix) || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, envVar{name, value})
	}
	slices.SortFunc(out, func(a, b envVar) int { return cmp.Compare(a.name, b.name) })
	return out
}

func (r *resolver[C]) loadEnv(env []envVar) {
	known := []string{r.t.FileEnv}
	for _, s := range r.t.Settings {
		if s.Kind != Map {
			known = append(known, s.Env)
		}
	}
vars:
	for _, kv := range env {
		if kv.name == r.t.FileEnv {
			continue
		}
		for i := range r.t.Settings {
			s := &r.t.Settings[i]
			switch {
			case s.Kind == Map && strings.HasPrefix(kv.name, s.Env):
				name := strings.TrimPrefix(kv.name, s.Env)
				if name == "" {
					r.fail(kv.name, fmt.Errorf("the setting name is empty (expected %s<NAME>=value)", s.Env))
				} else if kv.value != "" {
					if err := s.Put(&r.c, name, kv.value); err != nil {
						r.fail(kv.name, err)
					}
				}
				continue vars
			case kv.name == s.Env:
				if kv.value != "" {
					r.apply(s, kv.name, kv.value)
				}
				continue vars
			}
		}
		hint := DidYouMean(kv.name, known)
		if hint == "" && r.t.EnvHint != nil {
			hint = r.t.EnvHint(kv.name)
		}
		r.fail("", fmt.Errorf("unknown environment variable %q%s", kv.name, hint))
	}
}

// FlagUsage is the usage text of s's flag. It puts the argument name in
// back quotes, which flag.PrintDefaults shows after the flag name.
func FlagUsage[C any](s Setting[C]) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (`%s`", s.Doc, s.Arg)
	if s.Kind == Map {
		b.WriteString(", repeatable")
	}
	if s.Default != "" {
		fmt.Fprintf(&b, "; default: %s", s.Default)
	}
	env := s.Env
	if s.Kind == Map {
		env += "<NAME>"
	}
	fmt.Fprintf(&b, "; env: %s)", env)
	return b.String()
}

// Reference renders the table as Markdown: how the layers resolve, then
// one row per setting with its YAML key, variable, flag, default and
// description. It reads the same table the loader does, so it cannot drift
// from the code. A Default of literal text is shown as is (emphasis: "the
// app name"); quoted shows it in back quotes.
func (t *Table[C]) Reference(literal func(def string) bool) string {
	var b strings.Builder
	b.WriteString("Settings resolve in this order, later ones winning: defaults, the YAML file named by " +
		"`--config FILE` or `" + t.FileEnv + "`, `" + t.EnvPrefix + "*` environment variables (an empty one counts as unset), " +
		"command-line flags. Dotted keys such as `handler.max_attempts` are nested mappings in the file " +
		"(`handler: {max_attempts: 5}`).\n\n")
	b.WriteString("| key | env | flag | default | description |\n")
	b.WriteString("| --- | --- | --- | --- | --- |\n")
	for _, s := range t.Settings {
		key, env, flag := s.Key, s.Env, "--"+s.Flag
		if s.Kind == Map {
			key += ".<name>"
			env += "<NAME>"
			flag += " " + s.Arg
		}
		def := "(empty)"
		switch {
		case s.Default == "":
		case literal != nil && literal(s.Default):
			def = s.Default
		default:
			def = "`" + s.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | %s | %s |\n", key, env, flag, def, markdownCell(s.Doc))
	}
	return b.String()
}

// markdownCell escapes what would end a table cell early.
func markdownCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// DidYouMean suggests the candidate closest to got, if one is within edit
// distance 2, as ` (did you mean "x"?)`; otherwise it returns "".
func DidYouMean(got string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(got, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes: keys
// and names are ASCII.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
