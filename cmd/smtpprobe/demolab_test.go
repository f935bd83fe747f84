package main

import (
	"net/netip"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// demoLab is probetest's demo lab, under the names this package's tests
// use.
type demoLab struct {
	*probetest.DemoLab
	dns     *probetest.DNSServer
	servers []*probetest.SMTPServer
	port    uint16
	idle    netip.AddrPort
}

func startDemoLab(idleFor time.Duration) (*demoLab, error) {
	d, err := probetest.StartDemoLab(idleFor)
	if err != nil {
		return nil, err
	}
	return &demoLab{d, d.DNS, d.Servers, d.Port, d.Idle}, nil
}
