package main

import (
	"fmt"
	"unicode/utf8"
)

// truncate shortens s to at most n bytes (on a rune boundary) for a test
// failure message; the exporter's own is in internal/exporter.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:cut], len(s))
}

// scrapeTimeoutHeader is what Prometheus sends with every scrape.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"
