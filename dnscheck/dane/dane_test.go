package dane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type pki struct {
	root, inter, leaf *x509.Certificate
}

func mkcert(t testing.TB, tmpl, parent *x509.Certificate, pub, priv any) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newPKI makes root -> intermediate -> leaf; the leaf is for names and
// valid from notBefore to notAfter.
func newPKI(t testing.TB, names []string, notBefore, notAfter time.Time) pki {
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ik, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := func(n int64, cn string) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	root := mkcert(t, ca(1, "root"), ca(1, "root"), &rk.PublicKey, rk)
	inter := mkcert(t, ca(2, "inter"), root, &ik.PublicKey, rk)
	leaf := mkcert(t, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, inter, &lk.PublicKey, ik)
	return pki{root, inter, leaf}
}

func rec(u, s, m uint8, c *x509.Certificate) Record {
	data := selected(s, c)
	switch m {
	case MatchSHA256:
		h := sha256.Sum256(data)
		data = h[:]
	case MatchSHA512:
		h := sha512.Sum512(data)
		data = h[:]
	}
	return Record{Usage: u, Selector: s, MatchingType: m, Data: hex.EncodeToString(data)}
}

func TestMatchChain(t *testing.T) {
	good := newPKI(t, []string{"mx.example.com"}, now.Add(-time.Hour), now.Add(time.Hour))
	expiredOther := newPKI(t, []string{"other.example.net"}, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	other := newPKI(t, []string{"mx.example.com"}, now.Add(-time.Hour), now.Add(time.Hour))
	chain := []*x509.Certificate{good.leaf, good.inter}
	names := []string{"mx.example.com"}
	wild := newPKI(t, []string{"*.example.com"}, now.Add(-time.Hour), now.Add(time.Hour))
	wchain := []*x509.Certificate{wild.leaf, wild.inter}
	for _, tc := range []struct {
		name    string
		records []Record
		chain   []*x509.Certificate
		names   []string
		want    int // matching record, -1 for none
		depth   int
		reason  string
	}{
		// RFC 7672 §3.1.1: "3 1 1" is the recommended DANE-EE record.
		{"DANE-EE SPKI SHA-256", []Record{rec(3, 1, 1, good.leaf)}, chain, names, 0, 0, ""},
		{"DANE-EE cert SHA-256", []Record{rec(3, 0, 1, good.leaf)}, chain, names, 0, 0, ""},
		{"DANE-EE SPKI SHA-512", []Record{rec(3, 1, 2, good.leaf)}, chain, names, 0, 0, ""},
		{"DANE-EE full cert", []Record{rec(3, 0, 0, good.leaf)}, chain, names, 0, 0, ""},
		{"DANE-EE full SPKI", []Record{rec(3, 1, 0, good.leaf)}, chain, names, 0, 0, ""},
		{"second record matches", []Record{rec(3, 1, 1, other.leaf), rec(3, 1, 1, good.leaf)}, chain, names, 1, 0, ""},
		// RFC 7672 §3.1.1: DANE-EE ignores the names and the validity period.
		{"DANE-EE ignores name and expiry", []Record{rec(3, 1, 1, expiredOther.leaf)}, []*x509.Certificate{expiredOther.leaf}, names, 0, 0, ""},
		{"DANE-EE mismatch", []Record{rec(3, 1, 1, other.leaf)}, chain, names, -1, 0, "no TLSA record matches"},
		{"DANE-EE on the intermediate does not match", []Record{rec(3, 1, 1, good.inter)}, chain, names, -1, 0, "no TLSA record matches"},
		// RFC 7672 §3.1.2: DANE-TA(2) with a TA the server sends.
		{"DANE-TA intermediate", []Record{rec(2, 0, 1, good.inter)}, chain, names, 0, 1, ""},
		{"DANE-TA root in chain", []Record{rec(2, 1, 1, good.root)}, []*x509.Certificate{good.leaf, good.inter, good.root}, names, 0, 2, ""},
		{"DANE-TA wrong name", []Record{rec(2, 0, 1, good.inter)}, chain, []string{"mx2.example.com"}, -1, 0, "does not verify"},
		{"DANE-TA expired leaf", []Record{rec(2, 0, 1, expiredOther.inter)}, []*x509.Certificate{expiredOther.leaf, expiredOther.inter}, []string{"other.example.net"}, -1, 0, "does not verify"},
		// RFC 7672 §3.2.2: the reference identifiers are the MX host and the
		// TLSA base domain; either one in the leaf is enough.
		{"DANE-TA second reference name", []Record{rec(2, 0, 1, good.inter)}, chain, []string{"mx2.example.com", "mx.example.com."}, 0, 1, ""},
		// RFC 7672 §3.2.3: a wildcard is the whole left-most label, and stands for one label.
		{"DANE-TA wildcard leaf", []Record{rec(2, 1, 1, wild.inter)}, wchain, names, 0, 1, ""},
		{"DANE-TA wildcard, two labels", []Record{rec(2, 1, 1, wild.inter)}, wchain, []string{"a.mx.example.com"}, -1, 0, "does not verify"},
		{"DANE-TA wildcard, parent domain", []Record{rec(2, 1, 1, wild.inter)}, wchain, []string{"example.com"}, -1, 0, "does not verify"},
		{"DANE-TA no reference name", []Record{rec(2, 0, 1, good.inter)}, chain, nil, -1, 0, "no reference name"},
		{"DANE-TA of another CA", []Record{rec(2, 0, 1, other.inter)}, chain, names, -1, 0, "no TLSA record matches"},
		{"DANE-TA on the leaf does not match", []Record{rec(2, 1, 1, good.leaf)}, chain, names, -1, 0, "no TLSA record matches"},
		{"DANE-TA not sent", []Record{rec(2, 0, 1, good.root)}, chain, names, -1, 0, "no TLSA record matches"},
		// RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are not used.
		{"PKIX-EE ignored", []Record{rec(1, 1, 1, good.leaf)}, chain, names, -1, 0, "no TLSA record is usable"},
		{"PKIX-TA ignored", []Record{rec(0, 0, 1, good.inter)}, chain, names, -1, 0, "no TLSA record is usable"},
		{"unknown matching type", []Record{{3, 1, 3, strings.Repeat("00", 32)}}, chain, names, -1, 0, "no TLSA record is usable"},
		{"no certificate", []Record{rec(3, 1, 1, good.leaf)}, nil, names, -1, 0, "no certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := MatchChain(tc.records, tc.chain, tc.names, now)
			if m.Record != tc.want || (tc.want >= 0 && m.Depth != tc.depth) || !strings.Contains(m.Reason, tc.reason) {
				t.Errorf("MatchChain = %+v, want record %d depth %d reason %q", m, tc.want, tc.depth, tc.reason)
			}
		})
	}
}

func TestUnusable(t *testing.T) {
	for _, tc := range []struct {
		r    Record
		want string
	}{
		{Record{3, 1, 1, strings.Repeat("ab", 32)}, ""},
		{Record{2, 0, 2, strings.Repeat("ab", 64)}, ""},
		{Record{3, 1, 0, "3059"}, ""},
		{Record{0, 0, 1, strings.Repeat("ab", 32)}, "PKIX-TA"},
		{Record{1, 0, 1, strings.Repeat("ab", 32)}, "PKIX-EE"},
		{Record{4, 0, 1, strings.Repeat("ab", 32)}, "usage 4"},
		{Record{3, 2, 1, strings.Repeat("ab", 32)}, "selector 2"},
		{Record{3, 1, 1, strings.Repeat("ab", 31)}, "31 bytes"},
		{Record{3, 1, 2, strings.Repeat("ab", 32)}, "SHA2-512 data is 32 bytes"},
		{Record{3, 1, 9, "ab"}, "matching type 9"},
		{Record{3, 1, 1, "zz"}, "not hex"},
	} {
		if got := tc.r.Unusable(); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%v.Unusable() = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestParseRecord(t *testing.T) {
	// RFC 6698 §2.3's first example, hex split as in a zone file.
	in := "0 0 1 d2abde240d7cd3ee6b4b28c54df034b9 7983a1d16e8a410e4561cb106618e971"
	r, err := ParseRecord(in)
	if err != nil || r.Usage != 0 || r.Selector != 0 || r.MatchingType != 1 || r.Data != "d2abde240d7cd3ee6b4b28c54df034b97983a1d16e8a410e4561cb106618e971" {
		t.Fatalf("ParseRecord(%q) = %+v, %v", in, r, err)
	}
	for _, bad := range []string{"", "3 1 1", "3 1 x ab", "256 1 1 ab", "3 1 1 xyz", "-1 1 1 ab", "03 1 1 ab"} {
		if r, err := ParseRecord(bad); err == nil {
			t.Errorf("ParseRecord(%q) = %+v, want an error", bad, r)
		}
	}
}
