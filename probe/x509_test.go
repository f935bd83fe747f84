package probe

import (
	"crypto/x509"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

func x509CertPool(s *probetest.SMTPServer) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.Cert)
	return p
}
