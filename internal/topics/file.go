package topics

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The topics file of `topics create --file`:
//
//	defaults:                 # optional
//	  partitions: 6           # else topics.partitions
//	  replication_factor: 3   # else topics.replication_factor
//	  configs:                # every topic's, unless it sets its own
//	    retention.ms: 604800000
//	topics:
//	  - name: events
//	    partitions: 12
//	    configs:
//	      cleanup.policy: compact
//	  - audit                 # a name alone takes the defaults
type file struct {
	Defaults fileSpec   `yaml:"defaults"`
	Topics   []fileItem `yaml:"topics"`
}

type fileSpec struct {
	Name        string            `yaml:"name"`
	Partitions  int               `yaml:"partitions"`
	Replication int               `yaml:"replication_factor"`
	Configs     map[string]string `yaml:"configs"`
}

// fileItem is a topic of the file: a mapping, or a name alone.
type fileItem struct{ fileSpec }

func (it *fileItem) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		it.Name = n.Value
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a topic is a name or a mapping with name, partitions, replication_factor and configs", n.Line)
	}
	// Decode keeps KnownFields off for custom unmarshalers: check keys
	// here, so that a misspelt key is not ignored.
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i].Value; k {
		case "name", "partitions", "replication_factor", "configs":
		default:
			return fmt.Errorf("line %d: unknown key %q in a topic (known: name, partitions, replication_factor, configs)", n.Content[i].Line, k)
		}
	}
	return n.Decode(&it.fileSpec)
}

// ParseFile reads a topics file (the format is above) and returns its
// topics with the file's defaults applied; fields neither a topic nor the
// defaults give stay zero, for the caller's defaults. path names the file
// in errors.
func ParseFile(path string, data []byte) ([]Spec, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("topics: %s: %w", path, err)
	}
	if len(f.Topics) == 0 {
		return nil, fmt.Errorf("topics: %s: no topics: list them under \"topics:\", each a name or a mapping with name, partitions, replication_factor and configs", path)
	}
	if f.Defaults.Name != "" {
		return nil, fmt.Errorf("topics: %s: defaults: a name has no place in the defaults", path)
	}
	var specs []Spec
	var errs []error
	seen := map[string]bool{}
	for i, it := range f.Topics {
		s, err := it.spec(f.Defaults)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("topics: %s: topic %d: %w", path, i+1, err))
		case seen[s.Name]:
			errs = append(errs, fmt.Errorf("topics: %s: topic %q is listed twice", path, s.Name))
		default:
			seen[s.Name] = true
			specs = append(specs, s)
		}
	}
	if _, err := f.Defaults.spec(fileSpec{}); err != nil {
		errs = append(errs, fmt.Errorf("topics: %s: defaults: %w", path, err))
	}
	return specs, errors.Join(errs...)
}

func (it fileItem) spec(defaults fileSpec) (Spec, error) {
	if strings.TrimSpace(it.Name) == "" {
		return Spec{}, errors.New("it has no name")
	}
	return it.fileSpec.spec(defaults)
}

// spec checks fs and fills its zero fields from defaults; the defaults'
// configs go under the topic's own.
func (fs fileSpec) spec(defaults fileSpec) (Spec, error) {
	s := Spec{Name: fs.Name}
	p, r := fs.Partitions, fs.Replication
	if p == 0 {
		p = defaults.Partitions
	}
	if r == 0 {
		r = defaults.Replication
	}
	if p < 0 || p > math.MaxInt32 {
		return Spec{}, fmt.Errorf("partitions %d is out of range (1 to %d)", p, math.MaxInt32)
	}
	if r < 0 || r > math.MaxInt16 {
		return Spec{}, fmt.Errorf("replication_factor %d is out of range (1 to %d)", r, math.MaxInt16)
	}
	s.Partitions, s.Replication = int32(p), int16(r)
	if len(defaults.Configs)+len(fs.Configs) > 0 {
		s.Configs = maps.Clone(defaults.Configs)
		if s.Configs == nil {
			s.Configs = map[string]string{}
		}
		maps.Copy(s.Configs, fs.Configs)
	}
	for k := range s.Configs {
		if strings.TrimSpace(k) == "" {
			return Spec{}, errors.New("a config has an empty name")
		}
	}
	return s, nil
}
