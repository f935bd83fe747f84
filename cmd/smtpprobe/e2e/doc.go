// Package e2e holds the end-to-end tests of smtpprobe: they build the
// binary (cmd/smtpprobe) and run it against the network-namespace lab of
// testdata/lab (real Postfix, dnsmasq, routers with a bottleneck MTU) and
// against loopback peers, and test the shipped deploy/ files. It has no
// code of its own; the helpers are in its _test.go files and, where the
// command's in-process tests share them, in probe/probetest.
//
// Lab tests need root; they skip under -short or when a prerequisite is
// missing, except with CI=true, where a missing prerequisite fails.
package e2e
