package probe

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// module is this repository's module path, the prefix of its own imports.
const module = "github.com/smtpprobe/smtpprobe/"

// TestEngineImportsNothingFromCmd keeps the layers pointing downward: the
// engine (probe and everything under it, dnscheck, mtu) never imports the
// command's tree, cmd/smtpprobe and its run layer cmd/smtpprobe/internal.
// Test files count too, so no engine test leans on the run layer either.
func TestEngineImportsNothingFromCmd(t *testing.T) {
	files := 0
	for _, root := range []string{".", "../dnscheck", "../mtu"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			files++
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if rel, ok := strings.CutPrefix(path, module); ok && (rel == "cmd" || strings.HasPrefix(rel, "cmd/")) {
					t.Errorf("%s imports %s: the engine must not import the command's tree", p, path)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 50 {
		t.Fatalf("scanned %d engine files, want every Go file of probe, dnscheck and mtu", files)
	}
}
