package runtime

import (
	"fmt"
	"reflect"
	"strings"
)

// checkHooks reports the optional hooks of h that Handle would silently
// ignore: a method with a hook's name but not its signature (OnTombstone
// for another value type, say), or one declared on the pointer type of a
// handler registered as a value.
func checkHooks[K, V any](h Handler[K, V]) []error {
	t := reflect.TypeOf(h)
	hooks := []reflect.Type{
		reflect.TypeFor[TombstoneHandler[K, V]](),
		reflect.TypeFor[Receiver[K, V]](),
		reflect.TypeFor[ErrorHandler](),
		reflect.TypeFor[Finisher](),
		reflect.TypeFor[ContextDefiner](),
		reflect.TypeFor[Starter](),
		reflect.TypeFor[BulkHandler[K, V]](),
		reflect.TypeFor[BulkReceiver[K, V]](),
		reflect.TypeFor[BulkErrorHandler](),
		reflect.TypeFor[BulkFinisher](),
	}
	var errs []error
	for _, iface := range hooks {
		want := iface.Method(0)
		m, ok := t.MethodByName(want.Name)
		switch {
		case ok && !t.Implements(iface):
			errs = append(errs, fmt.Errorf("method %s has the signature %s, so it is not the %s hook, which must be %s",
				want.Name, signature(m.Type, 1), want.Name, signature(want.Type, 0)))
		case !ok && t.Kind() != reflect.Pointer:
			if _, onPtr := reflect.PointerTo(t).MethodByName(want.Name); onPtr {
				errs = append(errs, fmt.Errorf("method %s is declared on *%s, but the handler was registered as a %s value, "+
					"whose method set lacks it: register a pointer (&%s{...})", want.Name, t, t, t))
			}
		}
	}
	return errs
}

// signature writes a func type without its first skip parameters (the
// receiver of a method value's type).
func signature(t reflect.Type, skip int) string {
	in := make([]string, 0, t.NumIn())
	for i := skip; i < t.NumIn(); i++ {
		in = append(in, t.In(i).String())
	}
	out := make([]string, t.NumOut())
	for i := range out {
		out[i] = t.Out(i).String()
	}
	s := "func(" + strings.Join(in, ", ") + ")"
	switch len(out) {
	case 0:
	case 1:
		s += " " + out[0]
	default:
		s += " (" + strings.Join(out, ", ") + ")"
	}
	return s
}
