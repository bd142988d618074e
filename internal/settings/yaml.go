package settings

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlFile is the state of reading one config file.
type yamlFile[C any] struct {
	path   string
	byKey  map[string]*Setting[C]
	groups map[string]bool // key paths that hold nested keys: "handler", "topics"
	seen   map[string]bool // key paths already read, to catch duplicates
}

func (r *resolver[C]) loadYAML(path string, data []byte) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		r.fail(path, err)
		return
	}
	if len(doc.Content) == 0 {
		return // an empty file
	}
	root := deref(doc.Content[0])
	if isNull(root) {
		return
	}
	if root.Kind != yaml.MappingNode {
		r.fail(path, fmt.Errorf("expected a mapping of keys to values (e.g. \"group: orders\"), not a %s", kindName(root)))
		return
	}
	f := &yamlFile[C]{path: path, byKey: map[string]*Setting[C]{}, groups: map[string]bool{}, seen: map[string]bool{}}
	for i := range r.t.Settings {
		s := &r.t.Settings[i]
		f.byKey[s.Key] = s
		for j, c := range s.Key {
			if c == '.' {
				f.groups[s.Key[:j]] = true
			}
		}
	}
	r.walkYAML(f, "", root)
}

// walkYAML reads the mapping m, whose keys sit below prefix.
func (r *resolver[C]) walkYAML(f *yamlFile[C], prefix string, m *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, v := m.Content[i].Value, deref(m.Content[i+1])
		if prefix != "" {
			key = prefix + "." + key
		}
		if f.seen[key] {
			r.fail(f.path, fmt.Errorf("duplicate key %q", key))
			continue
		}
		f.seen[key] = true
		switch s := f.byKey[key]; {
		case s != nil:
			r.yamlValue(f, s, v)
		case f.groups[key] && v.Kind == yaml.MappingNode:
			r.walkYAML(f, key, v)
		case f.groups[key] && isNull(v):
		case f.groups[key]:
			var below []string
			for k := range f.byKey {
				if strings.HasPrefix(k, key+".") {
					below = append(below, k)
				}
			}
			slices.Sort(below)
			r.fail(f.path+": "+key, fmt.Errorf("expected a mapping with keys %s, not a %s", strings.Join(below, ", "), kindName(v)))
		default:
			var known []string
			for _, s := range r.t.Settings {
				known = append(known, s.Key)
			}
			for k := range f.groups {
				known = append(known, k)
			}
			slices.Sort(known)
			hint := DidYouMean(key, known)
			if hint == "" {
				hint = r.t.FileHint
			}
			r.fail(f.path, fmt.Errorf("unknown key %q%s", key, hint))
		}
	}
}

// yamlValue reads the value v of the setting s.
func (r *resolver[C]) yamlValue(f *yamlFile[C], s *Setting[C], v *yaml.Node) {
	source := f.path + ": " + s.Key
	switch {
	case s.Kind == Map && isNull(v):
	case s.Kind == Map && v.Kind == yaml.MappingNode:
		names := map[string]bool{}
		for i := 0; i+1 < len(v.Content); i += 2 {
			name, value := v.Content[i].Value, deref(v.Content[i+1])
			at := source + "." + name
			lower := strings.ToLower(name)
			switch {
			case names[lower]:
				r.fail(f.path, fmt.Errorf("duplicate key %q (names are case-insensitive)", s.Key+"."+name))
			case value.Kind != yaml.ScalarNode:
				r.fail(at, fmt.Errorf("expected a single value (a string, number or boolean), not a %s", kindName(value)))
			default:
				if err := s.Put(&r.c, name, scalarText(value)); err != nil {
					r.fail(at, err)
				}
			}
			names[lower] = true
		}
	case s.Kind == Map:
		r.fail(source, fmt.Errorf("expected a mapping of names to values, not a %s", kindName(v)))
	case s.Kind == Groups && v.Kind == yaml.SequenceNode:
		groups := make([]string, 0, len(v.Content))
		for i, item := range v.Content {
			item = deref(item)
			switch item.Kind {
			case yaml.ScalarNode:
				groups = append(groups, scalarText(item))
			case yaml.SequenceNode:
				var names []string
				for _, n := range item.Content {
					if n = deref(n); n.Kind != yaml.ScalarNode {
						r.fail(source, fmt.Errorf("%s %d: expected a list of %ss, but an item is a %s", s.Group, i+1, s.Item, kindName(n)))
						return
					}
					names = append(names, scalarText(n))
				}
				groups = append(groups, strings.Join(names, ","))
			default:
				r.fail(source, fmt.Errorf("%s %d: expected a %s or a list of %ss, not a %s", s.Group, i+1, s.Item, s.Item, kindName(item)))
				return
			}
		}
		r.apply(s, source, strings.Join(groups, ";"))
	case s.Kind == List && v.Kind == yaml.SequenceNode:
		items := make([]string, 0, len(v.Content))
		for _, item := range v.Content {
			item = deref(item)
			if item.Kind != yaml.ScalarNode {
				r.fail(source, fmt.Errorf("expected a list of single values, but an item is a %s", kindName(item)))
				return
			}
			items = append(items, scalarText(item))
		}
		r.apply(s, source, strings.Join(items, ","))
	case v.Kind != yaml.ScalarNode:
		r.fail(source, fmt.Errorf("expected a single value, not a %s", kindName(v)))
	default:
		r.apply(s, source, scalarText(v))
	}
}

// deref follows YAML aliases (*name) to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// scalarText is the text of a scalar; null ("key:" or "key: ~") reads as empty.
func scalarText(n *yaml.Node) string {
	if isNull(n) {
		return ""
	}
	return n.Value
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "single value"
	}
}
