package job

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lim := FileLimit{What: "test", Bytes: 10, Items: 3, Count: yamlItems}
	tests := []struct {
		name, path string
		wantErr    string // "" for none
	}{
		{"at the byte limit", write("ten", "a: b\nc: d\n"), ""},
		{"one byte over", write("eleven", "a: b\nc: d\n#"), "is larger than 10 B, the limit for a test file"},
		{"a device without end", "/dev/zero", "/dev/zero is larger than 10 B"},
		{"items over", write("items", "[a,b,c,d]"), "has more than 3 items"},
		{"items at the limit", write("three", "[a,b]\n"), ""},
		{"absent", filepath.Join(dir, "absent"), "no such file"},
	}
	for _, tt := range tests {
		b, err := ReadFile(tt.path, lim)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("ReadFile(%s) = %v, want no error", tt.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || b != nil {
			t.Errorf("ReadFile(%s) = %q, %v; want an error containing %q", tt.name, b, err, tt.wantErr)
		}
		if strings.Contains(tt.wantErr, "larger") || strings.Contains(tt.wantErr, "items") {
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("ReadFile(%s) = %v, want errors.Is ErrTooLarge", tt.name, err)
			}
		}
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "reg")
	if err := os.WriteFile(reg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "new"), ""},
		{reg, ""},
		{dir, "exists and is a directory"},
		{"/dev/null", "exists and is a character device"},
		{filepath.Join(dir, "no/such"), "does not exist"},
	} {
		err := CheckWritable("prom_file", tt.path)
		var fe *FieldError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckWritable(%s) = %v, want nil", tt.path, err)
		case tt.want != "" && (!errors.As(err, &fe) || fe.Field != "prom_file" || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckWritable(%s) = %v, want a *FieldError containing %q", tt.path, err, tt.want)
		}
	}
}
