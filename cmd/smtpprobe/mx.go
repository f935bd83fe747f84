package main

import (
	"context"
	"errors"
	"io"
	"net/netip"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
)

// runMX implements `smtpprobe mx DOMAIN[:PORT]`.
func runMX(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := pflag.NewFlagSet("mx", pflag.ContinueOnError)
	var cf commonFlags
	cf.register(fs)
	fs.BoolVar(&cf.noStartTLS, "no-starttls", false, "do not try STARTTLS even when offered")
	fs.BoolVar(&cf.noPTR, "no-ptr", false, "skip reverse DNS (PTR, forward-confirmed) checks")
	if err := parseFlags(fs, args, stdout, "smtpprobe mx DOMAIN[:PORT] [flags]"); err != nil {
		return 0, err
	}
	if err := cf.validate(); err != nil {
		return 0, err
	}
	if fs.NArg() != 1 {
		return 0, usagef("mx: want exactly one DOMAIN[:PORT], got %d arguments", fs.NArg())
	}
	domain, port, err := splitTarget(fs.Arg(0), 25)
	if err != nil {
		return 0, err
	}
	if _, err := netip.ParseAddr(domain); err == nil {
		return 0, usagef("mx: %q is an address; mx wants a domain", domain)
	}
	if _, err := dnscheck.NormalizeDomain(domain); err != nil {
		return 0, usagef("mx: %v", err)
	}
	res, err := cf.newResolver()
	if err != nil {
		return 0, err
	}
	rep, err := cf.prober().MX(ctx, res, domain, probe.RunOptions{
		Port: port, Family: cf.family(), Parallel: cf.parallel, NoPTR: cf.noPTR})
	var ie *dnscheck.InputError
	switch {
	case errors.As(err, &ie):
		return 0, usagef("mx: %v", err)
	case err != nil:
		return 0, err
	}
	return emit(rep, &cf, stdout)
}
