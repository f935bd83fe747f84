package config

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

// yamlKeys returns the yaml tags of a struct type's fields.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	sort.Strings(keys)
	return keys
}

// TestKeysMatchStructs checks that the Keys table, which the checker and
// help config read, lists exactly the keys the structs decode.
func TestKeysMatchStructs(t *testing.T) {
	for _, tc := range []struct {
		s   Section
		typ reflect.Type
	}{
		{Top, reflect.TypeOf(Config{})},
		{Modules, reflect.TypeOf(Module{})},
		{Targets, reflect.TypeOf(Target{})},
		{ServeS, reflect.TypeOf(Serve{})},
	} {
		var table []string
		for _, k := range KeysIn(tc.s) {
			table = append(table, k.Name)
			if k.Meaning == "" || k.Example == "" || k.Type == "" {
				t.Errorf("key %s %q lacks a meaning, type or example", tc.s, k.Name)
			}
		}
		sort.Strings(table)
		if want := yamlKeys(tc.typ); !reflect.DeepEqual(table, want) {
			t.Errorf("section %q: Keys has %v, the struct decodes %v", tc.s, table, want)
		}
	}
}

func TestModuleSettings(t *testing.T) {
	c, err := Load(writeConfig(t, "modules:\n  t:\n    command: timeout\n    max_wait: 10m\n    to: [a@example.com]\n    ipv4: true\n    phase: data\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Modules["t"].Settings(), "; ")
	if want := "command: timeout; ipv4: true; to: [a@example.com]; phase: data; max_wait: 10m"; got != want {
		t.Errorf("Settings() = %q, want %q", got, want)
	}
}
