// Package render writes probe reports for people and monitoring systems:
// Text (the terminal report), JSON (the report as one document, README "JSON"),
// Nagios (the monitoring-plugins output format) and, in
// probe/render/prom, the Prometheus text exposition. Each writer takes an
// io.Writer, builds its output completely first and writes it once, so a
// failure never leaves half a document. A new output format is a new
// writer here; probe/render/output picks the writer a front end asked
// for (and writes the metrics file), and cmd/smtpprobe/internal/help writes the
// command line's own reference: help text, man page, completion.
//
// Output safety. Text from the network (replies, banners, DNS and TLS
// names, error texts) and from the user ends up in every output format.
// None of it may break a line, a perfdata item or a metric label, so:
//
//   - SafeText is the one escaper for text, Nagios and Prometheus label
//     values: control characters, line and paragraph separators, other
//     unprintable runes and bytes that are not UTF-8 are shown as Go-style
//     escapes (\x0a, \u2028, \xff), visibly rather than dropped;
//   - every line of text and Nagios output is formatted with each
//     argument passed through SafeText, so that only the format (ours)
//     places newlines;
//   - EscapeInvalidUTF8 rewrites, once per report, the bytes that are not
//     UTF-8 in every string of the report as \xNN, before any format is
//     rendered; JSON (which would turn them into U+FFFD silently) and a
//     saved baseline then show the same text as the other formats. JSON
//     keeps control characters, escaped by encoding/json.
//
// A backslash in the input is kept as it is: "\x0a" in a reply reads the
// same as a newline byte did, which is the point of showing it.
package render
