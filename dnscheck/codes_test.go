package dnscheck

import (
	"os"
	"regexp"
	"slices"
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
