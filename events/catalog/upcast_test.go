package catalog

import "testing"

// Every schema step lifts a type of the vocabulary from a schema below
// its current one: a step for an unknown type, or beyond the type's
// schema, would never run or would lift events past what producers write.
func TestUpcastStepsFitTheVocabulary(t *testing.T) {
	for _, s := range upcasts {
		spec, ok := SpecOf(s.typ)
		if !ok {
			t.Errorf("a step for %q, which is not in the vocabulary", s.typ)
			continue
		}
		if s.from < 1 || s.from >= spec.Schema {
			t.Errorf("%s: a step from schema %d, but the type is at schema %d", s.typ, s.from, spec.Schema)
		}
	}
	_ = Upcasters() // registers every step once, or panics
}
