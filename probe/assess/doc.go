// Package assess judges a finished probe.Report, after the probe kinds
// have run: against limits, as a monitoring plugin's warning and critical
// thresholds do (Thresholds, Apply), and against a saved run of the same
// command and target, the pre- and post-change check of a firewall rule
// (Compare). What it finds joins the report as findings with the codes of
// dnscheck's table; the report's status then follows from them
// (probe.Report.Status).
//
// Judging one result while it is measured (the outcome taxonomy, RFC 5321
// minimums, the TLS policies of RFC 8461 and RFC 7672) stays in package
// probe; this package only reads what a report already holds, so a saved
// report (JSON read back) is judged as a fresh one is.
package assess
