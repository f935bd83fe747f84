package units

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestOneSpellingInSource keeps the retired spellings of a duration out of
// the messages people read (issue 20, item 2): a format verb followed by
// a spaced unit ("%.3f ms", "%d s") or a duration's own String ("5m0s",
// "1m30s") is written through Duration or Setting instead. It scans the
// Go source of the engine and the command, tests left out.
func TestOneSpellingInSource(t *testing.T) {
	spaced := regexp.MustCompile(`%[-+# 0-9.]*[dfgsv] (ms|s|µs|us)\b|"[^"]*\b\d+ (ms|s)\b[^"]*"`)
	rounded := regexp.MustCompile(`\.Round\(time\.(Millisecond|Microsecond)\)\s*[,)]`)
	files := 0
	for _, root := range []string{"../../probe", "../../dnscheck", "../../mtu", "../../cmd"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			for i, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "//") {
					continue
				}
				if m := spaced.FindString(line); m != "" {
					t.Errorf("%s:%d: %q spells a duration with a space; use units.Duration or units.Setting", path, i+1, m)
				}
				if strings.Contains(line, "printf(") || strings.Contains(line, "Sprintf(") || strings.Contains(line, "Errorf(") {
					if m := rounded.FindString(line); m != "" {
						t.Errorf("%s:%d: %q prints a time.Duration's own String (\"5m0s\"); use units.Duration", path, i+1, m)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 100 {
		t.Fatalf("scanned %d Go files, want the whole engine and command", files)
	}
}
