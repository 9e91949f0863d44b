// Package configkeys refuses configuration keys that a component's Config
// does not decode.
//
// confmap normally does this itself: decoding `{bogus: 1}` into a plain
// struct fails with `'<name>' has invalid keys: bogus`. A Config that
// squashes confighttp.ClientConfig or confighttp.ServerConfig loses that
// check for all its keys, in every section: those types implement
// confmap.Unmarshaler and decode with confmap.WithIgnoreUnused (they cannot
// know their parent's sibling keys), and confmap then decodes the parent's
// remaining fields with unused keys ignored as well. A misspelt key
// (`retension: full`, `api_key:` for `api_keys:`) is then silently dropped
// and the component runs with its default, which is worse than failing.
//
// Check walks the raw map of a *confmap.Conf alongside the Go type that will
// decode it, by the same mapstructure tags confmap uses, and reports each
// key that no field would take, named as mapstructure names it. A Config
// opts in with an Unmarshal method that calls Unmarshal:
//
//	func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
//		return configkeys.Unmarshal(conf, cfg)
//	}
package configkeys // import "github.com/opperotel/bridge/internal/configkeys"

import (
	"encoding"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/confmap"
)

// Unmarshal checks conf's keys against cfg's type and, when they are all
// known, decodes conf into cfg. It is meant to be the body of a Config's
// confmap.Unmarshaler: confmap does not call the Unmarshal method of the
// value it is decoding into from inside that method, so this does not
// recurse, while nested Unmarshalers (squashed confighttp configs,
// configoptional, a section's own Unmarshal) still run.
func Unmarshal(conf *confmap.Conf, cfg any) error {
	if err := Check(conf, cfg); err != nil {
		return err
	}
	return conf.Unmarshal(cfg)
}

// InvalidKeysError names the keys of one section that no field decodes.
type InvalidKeysError struct {
	// Name is the section as mapstructure names it: dotted keys, `[i]` for
	// list items and `[key]` for map values, the Go type for the top level.
	Name string
	// Keys are the unknown keys, sorted.
	Keys []string
}

// Error has the shape of confmap's own message for the same mistake.
func (e *InvalidKeysError) Error() string {
	return fmt.Sprintf("'%s' has invalid keys: %s", e.Name, strings.Join(e.Keys, ", "))
}

// Check reports every key of conf, at any depth, that decoding conf into cfg
// (a pointer to a Config, or a Config) would not use: one *InvalidKeysError
// per section, joined. Values are not checked; confmap's decoding and the
// Config's Validate do that.
//
// The walk follows mapstructure's rules: a field's key is its tag name, or
// its Go name without one; `-` fields are skipped; `squash` fields add their
// keys to the parent; a `remain` field accepts any key. It descends through
// pointers, structs, lists, map values and configoptional.Optional (whose
// `enabled` key it accepts). These are values, not sections, and are not
// looked into: scalars, interfaces, types implementing
// encoding.TextUnmarshaler given anything but a map (component.ID, enums),
// and non-struct confmap.Unmarshalers given a map (configopaque.MapList:
// any header name).
// A struct that implements confmap.Unmarshaler is checked by its fields,
// which is right for every such type the collector and this project define:
// their Unmarshal methods adjust the decoding but read the same keys.
func Check(conf *confmap.Conf, cfg any) error {
	t := reflect.TypeOf(cfg)
	if t == nil {
		return nil
	}
	var w walker
	w.value("", conf.ToStringMap(), t, false)
	return errors.Join(w.errs...)
}

type walker struct {
	errs []error
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	unmarshalerType     = reflect.TypeFor[confmap.Unmarshaler]()
)

// value checks raw, the configuration at name, against t, the type it
// decodes into. allowEnabled accepts an `enabled` key beside the struct's
// own, for the struct inside a configoptional.Optional.
func (w *walker) value(name string, raw any, t reflect.Type, allowEnabled bool) {
	if raw == nil {
		return // a null section decodes to nothing
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if _, isMap := raw.(map[string]any); !isMap && reflect.PointerTo(t).Implements(textUnmarshalerType) {
		// A value such as component.ID. Given a map, the same type is
		// decoded as a section (confmap only uses UnmarshalText for a
		// string), as the receiver's StorageConfig is in its long form.
		return
	}
	if inner, ok := optionalValueType(t); ok {
		// Optional.Unmarshal removes `enabled` and decodes the rest into T.
		w.value(name, raw, inner, true)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if m, ok := raw.(map[string]any); ok {
			w.structFields(name, m, t, allowEnabled)
		}
	case reflect.Slice, reflect.Array:
		if _, isMap := raw.(map[string]any); isMap && reflect.PointerTo(t).Implements(unmarshalerType) {
			// A list type that decodes itself from a map, as
			// configopaque.MapList does from `{header: value}`: the map's
			// keys are data.
			return
		}
		if s, ok := raw.([]any); ok {
			for i, e := range s {
				w.value(name+"["+strconv.Itoa(i)+"]", e, t.Elem(), false)
			}
		}
	case reflect.Map:
		if m, ok := raw.(map[string]any); ok && !reflect.PointerTo(t).Implements(unmarshalerType) {
			// Any key is allowed; the values are checked against the map's
			// value type, so map[string]SomeStruct gets its sections checked.
			for _, k := range slices.Sorted(maps.Keys(m)) {
				w.value(name+"["+k+"]", m[k], t.Elem(), false)
			}
		}
	default:
		// Scalars and interfaces (any) take what they are given.
	}
}

// structFields checks a struct's section: its own keys, then each known
// key's value.
func (w *walker) structFields(name string, m map[string]any, t reflect.Type, allowEnabled bool) {
	fields := map[string]reflect.Type{}
	remain := collectFields(t, fields)
	if !remain {
		var unknown []string
		for k := range m {
			if _, ok := fields[k]; !ok && (!allowEnabled || k != "enabled") {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			slices.Sort(unknown)
			errName := name
			if errName == "" {
				// As mapstructure does for the top level.
				errName = t.String()
			}
			w.errs = append(w.errs, &InvalidKeysError{Name: errName, Keys: unknown})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		ft, ok := fields[k]
		if !ok {
			continue
		}
		child := k
		if name != "" {
			child = name + "." + k
		}
		w.value(child, m[k], ft, false)
	}
}

// collectFields adds the keys t's fields decode, and their types, to fields,
// squashed structs included. It reports whether a `remain` field takes any
// other key.
func collectFields(t reflect.Type, fields map[string]reflect.Type) (remain bool) {
	for f := range t.Fields() {
		if !f.IsExported() {
			// mapstructure cannot set it; this also skips `_ struct{}` and
			// unexported embedded structs such as confighttp's private fields.
			continue
		}
		key, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if key == "-" {
			continue
		}
		optList := strings.Split(opts, ",")
		if slices.Contains(optList, "remain") {
			remain = true
			continue
		}
		if slices.Contains(optList, "squash") {
			st := f.Type
			for st.Kind() == reflect.Pointer {
				st = st.Elem()
			}
			if st.Kind() == reflect.Struct {
				remain = collectFields(st, fields) || remain
				continue
			}
		}
		if key == "" {
			// confmap matches untagged fields by their Go name, case-sensitively.
			key = f.Name
		}
		fields[key] = f.Type
	}
	return remain
}

// optionalValueType returns T for configoptional.Optional[T], found by its
// package and name because Go has no reflection on generic types.
func optionalValueType(t reflect.Type) (reflect.Type, bool) {
	if t.Kind() != reflect.Struct || t.PkgPath() != "go.opentelemetry.io/collector/config/configoptional" ||
		!strings.HasPrefix(t.Name(), "Optional[") {
		return nil, false
	}
	f, ok := t.FieldByName("value")
	if !ok {
		return nil, false
	}
	return f.Type, true
}
