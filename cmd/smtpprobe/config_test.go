package main

import (
	"os"
	"path/filepath"
	"testing"
)

// writeConfig writes text as check.yaml in a temporary directory.
func writeConfig(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "check.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
