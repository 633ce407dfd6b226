package attestation

import (
	"fmt"
	"slices"
	"strings"
)

// Registry is the set of attestation types a service answers. Types are
// registered before the registry is given to a service; after that it is
// only read, and reading is safe for concurrent use.
type Registry struct {
	types  []Type
	byName map[string]Type // lower-case name
}

// NewRegistry returns a registry of types (see Register).
func NewRegistry(types ...Type) (*Registry, error) {
	r := &Registry{byName: map[string]Type{}}
	for _, t := range types {
		if err := r.Register(t); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds a type. Names are unique, case-insensitively.
func (r *Registry) Register(t Type) error {
	if t == nil || t.Name() == "" {
		return fmt.Errorf("attestation: a type needs a name")
	}
	if r.byName == nil {
		r.byName = map[string]Type{}
	}
	key := strings.ToLower(t.Name())
	if _, dup := r.byName[key]; dup {
		return fmt.Errorf("attestation: type %s is registered twice", t.Name())
	}
	switch t.EvidenceField() {
	case "quote", "report", "evidence":
	default:
		return fmt.Errorf("attestation: type %s: evidence field %q is not quote, report (MAA's, base64url) or evidence (a JSON value)", t.Name(), t.EvidenceField())
	}
	r.byName[key] = t
	r.types = append(r.types, t)
	return nil
}

// Lookup returns the type of a name, matched case-insensitively as MAA
// matches its attestation types.
func (r *Registry) Lookup(name string) (Type, bool) {
	if r == nil {
		return nil, false
	}
	for _, t := range r.types { // a handful: no allocation on the request path
		if strings.EqualFold(t.Name(), name) {
			return t, true
		}
	}
	return nil, false
}

// Names returns the registered names, in registration order.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	names := make([]string, len(r.types))
	for i, t := range r.types {
		names[i] = t.Name()
	}
	return names
}

// Types returns the registered types, in registration order.
func (r *Registry) Types() []Type {
	if r == nil {
		return nil
	}
	return slices.Clone(r.types)
}
