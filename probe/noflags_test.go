package probe

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// flagToken matches a command-line flag spelling ("--to", "--max") at the
// start of a string or after a separator.
var flagToken = regexp.MustCompile("(?:^|[\\s(\\[,;:'\"`=])(--[a-z][a-z0-9-]*)")

// foreignFlags are flags of other programs that findings quote as advice
// for the administrator (the iptables rule that clamps the MSS), not the
// front ends' options.
var foreignFlags = map[string]bool{
	"--tcp-flags":         true,
	"--clamp-mss-to-pmtu": true,
}

// flagNames returns the flag spellings in s that are not foreign.
func flagNames(s string) []string {
	var out []string
	for _, m := range flagToken.FindAllStringSubmatch(s, -1) {
		if !foreignFlags[m[1]] {
			out = append(out, m[1])
		}
	}
	return out
}

func TestFlagNames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"give a recipient the server accepts", nil},
		{"pass one with --to", []string{"--to"}},
		{"--timeout: must be positive", []string{"--timeout"}},
		{"(--max 1500)", []string{"--max"}},
		{"iptables -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu", nil},
		{"a double--dash inside a word", nil},
		{"em dash -- then text", nil},
	} {
		got := flagNames(tc.in)
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("flagNames(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestNoFlagNamesInEngine fails on any string literal of the engine
// packages' non-test Go that spells a front end's flag: the engine says
// what to change in neutral words or in a typed field (Finding.Option,
// RangeError.Field), and each front end renders it as its own option
// (a flag, a config key, a URL parameter).
func TestNoFlagNamesInEngine(t *testing.T) {
	files := 0
	for _, dir := range []string{".", "wire", "../mtu", "../dnscheck"} {
		paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			files++
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Errorf("%s: %v", fset.Position(lit.Pos()), err)
					return true
				}
				if names := flagNames(s); len(names) > 0 {
					t.Errorf("%s: string literal spells flag %s: %s", fset.Position(lit.Pos()), strings.Join(names, ", "), lit.Value)
				}
				return true
			})
		}
	}
	if files < 20 {
		t.Fatalf("scanned %d engine files, want the probe, wire, mtu and dnscheck sources", files)
	}
}
