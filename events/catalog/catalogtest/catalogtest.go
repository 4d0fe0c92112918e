// Package catalogtest makes example payloads of the event vocabulary for
// tests: every field of a type's payload set, so that a test can see each
// one survive an encoding, a fold or a summary. It is imported by tests
// only, never linked into the binary.
package catalogtest

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"releasedesk/events/catalog"
)

// When is the time every example carries.
var When = time.Date(2026, 12, 6, 8, 30, 0, 0, time.UTC)

// Example returns a payload of s's type (a struct value, not a pointer)
// with every field set to a value that names it: strings are the field's
// JSON name and "-1", numbers 7, booleans true, times When, lists one
// element. A project.configured's config is an example Project.
func Example(s catalog.Spec) any {
	v := reflect.New(s.Payload).Elem()
	fill(v, "")
	return v.Interface()
}

var (
	rawType      = reflect.TypeFor[json.RawMessage]()
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[catalog.Duration]()
)

func fill(v reflect.Value, name string) {
	switch {
	case v.Type() == rawType:
		raw, err := json.Marshal(Example(catalog.Spec{Payload: reflect.TypeFor[catalog.Project]()}))
		if err != nil {
			panic(err)
		}
		v.SetBytes(raw)
		return
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(When))
		return
	case v.Type() == durationType:
		v.SetInt(int64(10 * time.Second))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(name + "-1")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint64:
		v.SetUint(7)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.IsExported() {
				fill(v.Field(i), key)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), name)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		fill(k, name+"-key")
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, name)
		m.SetMapIndex(k, e)
		v.Set(m)
	default:
		panic("catalogtest: no example for a " + v.Type().String() + " (field " + name + ")")
	}
}
