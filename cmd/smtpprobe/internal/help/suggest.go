package help

import (
	"fmt"
	"strconv"
	"strings"
)

// Suggest returns the option closest to word by edit distance
// (Levenshtein, case-insensitive), or "" when none is close: at most one
// edit for words of up to four letters, two up to eight, three beyond.
// It is the did-you-mean of commands, flags, enum values and config keys.
func Suggest(word string, options []string) string {
	w := strings.ToLower(word)
	limit := 3
	switch {
	case len(w) <= 4:
		limit = 1
	case len(w) <= 8:
		limit = 2
	}
	best, bestD := "", limit+1
	for _, o := range options {
		d := editDistance(w, strings.ToLower(o))
		if d < bestD || d == bestD && best == "" {
			best, bestD = o, d
		}
	}
	if bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// DurationHint explains a duration that did not parse: a bare number
// gets "did you mean 3s?", anything else the units Go accepts. s is the
// value as given.
func DurationHint(s string) string {
	if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return "a duration needs a unit: did you mean " + strings.TrimSpace(s) + "s?"
	}
	return "want a duration such as 500ms, 30s or 10m"
}

// DidYouMean is "; did you mean X?" for the option closest to word, or "".
func DidYouMean(word string, options []string) string {
	if s := Suggest(word, options); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}
