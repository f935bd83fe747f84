package dnscheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Codes {
		if seen[c.Code] {
			t.Errorf("Codes lists %s twice", c.Code)
		}
		seen[c.Code] = true
		if !c.Family() && !kebab.MatchString(c.Code) {
			t.Errorf("code %q is not kebab-case", c.Code)
		}
		if len(c.Severities) == 0 || c.About == "" {
			t.Errorf("code %s: severities %v, about %q; want both", c.Code, c.Severities, c.About)
		}
		if !slices.IsSortedFunc(c.Severities, func(a, b Severity) int { return a.Rank() - b.Rank() }) {
			t.Errorf("code %s: severities %v, want the most severe first", c.Code, c.Severities)
		}
		if got, ok := CodeOf(c.Code); !c.Family() && (!ok || got.Code != c.Code) {
			t.Errorf("CodeOf(%q) = %v, %v; want its own entry", c.Code, got.Code, ok)
		}
	}
	for _, tc := range []struct {
		code, family string
	}{
		{"icmp-port-unreachable", "icmp-CLASS"},
		{"icmp-icmp6-1-4", "icmp-CLASS"},
		{"address-connect-timeout", "address-OUTCOME"},
		{"formerr", "RCODE"},
		{"rcode23", "RCODE"},
		{"icmp-admin-prohibited", "icmp-admin-prohibited"},
		{"nxdomain", "nxdomain"},
	} {
		if got, ok := CodeOf(tc.code); !ok || got.Code != tc.family {
			t.Errorf("CodeOf(%q) = %q, %v; want %q", tc.code, got.Code, ok, tc.family)
		}
	}
	// Every constant of codes.go is in Codes (a family's as its prefix),
	// and every code of Codes has its constant.
	f, err := parser.ParseFile(token.NewFileSet(), "codes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.CONST {
			for _, sp := range gd.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if bl, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(n.Name, "Code") {
						consts[n.Name], _ = strconv.Unquote(bl.Value)
					}
				}
			}
		}
	}
	values := map[string]bool{}
	for name, v := range consts {
		values[v] = true
		if _, ok := CodeOf(v); !ok && !slices.ContainsFunc(Codes, func(c CodeInfo) bool { return c.Family() && strings.HasPrefix(c.Code, v) }) {
			t.Errorf("constant %s = %q is not in Codes", name, v)
		}
	}
	for _, c := range Codes {
		if !c.Family() && !values[c.Code] {
			t.Errorf("code %s has no constant in codes.go", c.Code)
		}
	}
	for _, code := range []string{"noerror", "icmp-", "address-", "mx-CNAME", "no-such-code", ""} {
		if got, ok := CodeOf(code); ok {
			t.Errorf("CodeOf(%q) = %q, want none", code, got.Code)
		}
	}
}

// TestCodesREADME holds the README's tables of finding codes (headed
// "| code | severity | when |") to Codes: every code is in exactly one
// row, with the same severities.
func TestCodesREADME(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]Severity{}
	inTable := false
	row := regexp.MustCompile("^\\| `([^`]+)` \\| ([^|]+) \\|")
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "| code | severity | when |":
			inTable = true
			continue
		case !strings.HasPrefix(line, "|"):
			inTable = false
		}
		m := row.FindStringSubmatch(line)
		if !inTable || m == nil {
			continue
		}
		if _, dup := rows[m[1]]; dup {
			t.Errorf("README lists code %s twice", m[1])
		}
		var sevs []Severity
		for _, s := range Severities {
			if strings.Contains(m[2], string(s)) {
				sevs = append(sevs, s)
			}
		}
		rows[m[1]] = sevs
	}
	if len(rows) < 50 {
		t.Fatalf("found %d codes in the README's tables; the table pattern is broken", len(rows))
	}
	for _, c := range Codes {
		sevs, ok := rows[c.Code]
		if !ok {
			t.Errorf("the README's tables lack code %s (%v: %s)", c.Code, c.Severities, c.About)
			continue
		}
		if !slices.Equal(sevs, c.Severities) {
			t.Errorf("README: code %s is %v, Codes says %v", c.Code, sevs, c.Severities)
		}
		delete(rows, c.Code)
	}
	for code := range rows {
		t.Errorf("README lists code %s, which Codes lacks", code)
	}
}

// codeLike is what a finding code looks like (a variable named code may
// hold other things, such as a terminal colour).
var codeLike = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*-?$`)

// TestNoCodeLiterals: outside codes.go, the module's Go code, tests
// included, names no finding code with a string literal. (Only this file,
// the table's own test, spells codes out: TestCodesREADME holds the
// constants to the README's strings, which pins the wire contract, and the
// golden files pin the output.) It flags a literal where a code
// goes (a Code field in a composite literal, an assignment or a
// comparison; a variable or parameter named code; a case of a switch on
// one), a literal prefix of a family ("icmp-" + class), and any literal
// equal to a code of Codes, except the constants of another vocabulary
// that shares the word (an outcome "refused", a verdict "mss-clamped"), a
// flag's name ("no-ptr") and a String method's words.
func TestNoCodeLiterals(t *testing.T) {
	exact := map[string]bool{}
	var prefixes []string
	for _, c := range Codes {
		if !c.Family() {
			exact[c.Code] = true
		} else if p := strings.TrimRightFunc(c.Code, func(r rune) bool { return r >= 'A' && r <= 'Z' }); p != "" {
			prefixes = append(prefixes, p)
		}
	}
	fset := token.NewFileSet()
	var files []*ast.File
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != ".." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || path == filepath.Join("..", "dnscheck", "codes.go") || path == filepath.Join("..", "dnscheck", "codes_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 150 {
		t.Fatalf("parsed %d files; the walk is broken", len(files))
	}
	// Functions (declared, or function literals assigned to a name) with
	// a parameter named code: name -> the parameter's index.
	codeParam := map[string]int{}
	record := func(name string, ft *ast.FuncType) {
		i := 0
		for _, fld := range ft.Params.List {
			if len(fld.Names) == 0 {
				i++
			}
			for _, n := range fld.Names {
				if n.Name == "code" {
					codeParam[name] = i
				}
				i++
			}
		}
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.FuncDecl:
				record(x.Name.Name, x.Type)
			case *ast.AssignStmt:
				for i, r := range x.Rhs {
					if fl, ok := r.(*ast.FuncLit); ok && i < len(x.Lhs) {
						if id, ok := x.Lhs[i].(*ast.Ident); ok {
							record(id.Name, fl.Type)
						}
					}
				}
			}
			return true
		})
	}
	isCode := func(e ast.Expr) bool {
		switch x := e.(type) {
		case *ast.Ident:
			return x.Name == "code"
		case *ast.SelectorExpr:
			return x.Sel.Name == "Code"
		}
		return false
	}
	bad := map[token.Pos]string{}
	flag := func(bl *ast.BasicLit, why string) {
		s, _ := strconv.Unquote(bl.Value)
		bad[bl.Pos()] = fmt.Sprintf("%s: %s %s", fset.Position(bl.Pos()), strconv.Quote(s), why)
	}
	inContext := func(e ast.Expr) {
		if be, ok := e.(*ast.BinaryExpr); ok && be.Op == token.ADD {
			e = be.X
		}
		if bl, ok := e.(*ast.BasicLit); ok && bl.Kind == token.STRING {
			s, _ := strconv.Unquote(bl.Value)
			// A test may make up a code to render (not one of Codes);
			// it may not spell out one of Codes or of a family.
			if _, known := CodeOf(s); codeLike.MatchString(s) && (known || !strings.HasSuffix(fset.Position(bl.Pos()).Filename, "_test.go")) {
				flag(bl, "where a finding code goes")
			}
		}
	}
	for _, f := range files {
		exempt := map[*ast.BasicLit]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			lits := func(es []ast.Expr) {
				for _, e := range es {
					if bl, ok := e.(*ast.BasicLit); ok {
						exempt[bl] = true
					}
				}
			}
			switch x := n.(type) {
			case *ast.GenDecl:
				for _, sp := range x.Specs {
					if vs, ok := sp.(*ast.ValueSpec); ok && x.Tok == token.CONST && !strings.HasSuffix(fset.Position(x.Pos()).Filename, "_test.go") {
						for i, nm := range vs.Names {
							if i < len(vs.Values) && !strings.HasPrefix(nm.Name, "Code") {
								lits(vs.Values[i : i+1])
							}
						}
					}
				}
			case *ast.CallExpr:
				if se, ok := x.Fun.(*ast.SelectorExpr); ok && (strings.HasSuffix(se.Sel.Name, "Var") || strings.HasSuffix(se.Sel.Name, "VarP")) {
					lits(x.Args)
				}
			case *ast.FuncDecl:
				if x.Name.Name == "String" && x.Recv != nil && x.Body != nil {
					ast.Inspect(x.Body, func(n ast.Node) bool {
						if r, ok := n.(*ast.ReturnStmt); ok {
							lits(r.Results)
						}
						return true
					})
				}
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(x.Value); err == nil && x.Kind == token.STRING && exact[s] && !exempt[x] {
					flag(x, "equals a finding code")
				}
			case *ast.KeyValueExpr:
				if id, ok := x.Key.(*ast.Ident); ok && id.Name == "Code" {
					inContext(x.Value)
				}
			case *ast.AssignStmt:
				for i, l := range x.Lhs {
					if isCode(l) && i < len(x.Rhs) {
						inContext(x.Rhs[i])
					}
				}
			case *ast.ValueSpec:
				for i, n := range x.Names {
					if n.Name == "code" && i < len(x.Values) {
						inContext(x.Values[i])
					}
				}
			case *ast.BinaryExpr:
				if x.Op == token.EQL || x.Op == token.NEQ {
					if isCode(x.X) {
						inContext(x.Y)
					}
					if isCode(x.Y) {
						inContext(x.X)
					}
				}
				if x.Op == token.ADD {
					if bl, ok := x.X.(*ast.BasicLit); ok && bl.Kind == token.STRING {
						s, _ := strconv.Unquote(bl.Value)
						if slices.Contains(prefixes, s) {
							flag(bl, "is a finding code family's prefix")
						}
					}
				}
			case *ast.SwitchStmt:
				if x.Tag != nil && isCode(x.Tag) {
					for _, st := range x.Body.List {
						for _, e := range st.(*ast.CaseClause).List {
							inContext(e)
						}
					}
				}
			case *ast.CallExpr:
				var name string
				switch fn := x.Fun.(type) {
				case *ast.Ident:
					name = fn.Name
				case *ast.SelectorExpr:
					name = fn.Sel.Name
				}
				if i, ok := codeParam[name]; ok && i < len(x.Args) {
					inContext(x.Args[i])
				}
			}
			return true
		})
	}
	var out []string
	for _, b := range bad {
		out = append(out, b)
	}
	sort.Strings(out)
	for _, b := range out {
		t.Errorf("%s; use its constant (dnscheck/codes.go)", b)
	}
}
