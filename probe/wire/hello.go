package wire

// The ClientHello on the wire (issue 18, item 5): what a TLS client's
// hello offers, and how it leaves in segments. Package probe decides what
// a stalled hello means (tlshello.go); this file only writes, counts and
// parses bytes.

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/mtu"
)

// TLSGroups chooses the key shares of the ClientHello (RFC 8446 §4.2.7,
// §4.2.8).
type TLSGroups string

// The key-share choices.
const (
	// TLSGroupsDefault is the Go TLS stack's default: with Go 1.24 and
	// later, X25519MLKEM768 and X25519 key shares.
	TLSGroupsDefault TLSGroups = "default"
	// TLSGroupsPQ offers the post-quantum hybrid X25519MLKEM768 first
	// (with an X25519 key share beside it), whatever the default.
	TLSGroupsPQ TLSGroups = "pq"
	// TLSGroupsClassical offers classical groups only: one X25519 key
	// share, a ClientHello of about 300 bytes.
	TLSGroupsClassical TLSGroups = "classical"
)

// TLSGroupsChoices lists the TLSGroups values, for help and validation.
var TLSGroupsChoices = []string{string(TLSGroupsPQ), string(TLSGroupsClassical), string(TLSGroupsDefault)}

// ValidTLSGroups reports whether s is a TLSGroups value ("" is the default).
func ValidTLSGroups(s string) bool {
	return s == "" || s == string(TLSGroupsPQ) || s == string(TLSGroupsClassical) || s == string(TLSGroupsDefault)
}

var (
	pqCurves        = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}
	classicalCurves = []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384}
)

// Curves is the tls.Config.CurvePreferences of g; nil is Go's default.
func (g TLSGroups) Curves() []tls.CurveID {
	switch g {
	case TLSGroupsPQ:
		return pqCurves
	case TLSGroupsClassical:
		return classicalCurves
	}
	return nil
}

// GroupName is the IANA TLS Supported Groups name of a group: "x25519",
// "secp256r1", "X25519MLKEM768", or its number in hex.
func GroupName(id tls.CurveID) string {
	switch id {
	case tls.X25519:
		return "x25519"
	case tls.CurveP256:
		return "secp256r1"
	case tls.CurveP384:
		return "secp384r1"
	case tls.CurveP521:
		return "secp521r1"
	case tls.X25519MLKEM768:
		return "X25519MLKEM768"
	case tls.SecP256r1MLKEM768:
		return "SecP256r1MLKEM768"
	case tls.SecP384r1MLKEM1024:
		return "SecP384r1MLKEM1024"
	case 0:
		return ""
	}
	return fmt.Sprintf("0x%04x", uint16(id))
}

// ErrNotHello is ParseHello's error for bytes that are not a ClientHello.
var ErrNotHello = errors.New("not a TLS ClientHello record")

// isHelloStart reports whether p begins a TLS handshake record (content
// type 22, RFC 8446 §5.1) holding a ClientHello (handshake type 1, §4):
// what a middlebox that inspects hellos looks for.
func isHelloStart(p []byte) bool {
	return len(p) > 5 && p[0] == 22 && p[5] == 1
}

// ParseHello returns the names (GroupName) of the groups whose key shares
// a ClientHello record offers (the key_share extension, RFC 8446 §4.2.8),
// in order; empty, not nil, when it offers none.
func ParseHello(b []byte) ([]string, error) {
	if !isHelloStart(b) {
		return nil, ErrNotHello
	}
	rec := int(binary.BigEndian.Uint16(b[3:5]))
	b = b[5:]
	if len(b) > rec {
		b = b[:rec]
	}
	// Handshake header: type (1), length (3); then legacy_version (2),
	// random (32), session id, cipher suites, compression methods,
	// extensions (RFC 8446 §4.1.2).
	if len(b) < 4+2+32 {
		return nil, ErrNotHello
	}
	b = b[4+2+32:]
	skip := func(lenBytes int) bool {
		if len(b) < lenBytes {
			return false
		}
		n := 0
		for _, x := range b[:lenBytes] {
			n = n<<8 | int(x)
		}
		if len(b) < lenBytes+n {
			return false
		}
		b = b[lenBytes+n:]
		return true
	}
	if !skip(1) || !skip(2) || !skip(1) || len(b) < 2 {
		return nil, ErrNotHello
	}
	exts := b[2:]
	if n := int(binary.BigEndian.Uint16(b)); n < len(exts) {
		exts = exts[:n]
	}
	for len(exts) >= 4 {
		typ, n := binary.BigEndian.Uint16(exts), int(binary.BigEndian.Uint16(exts[2:]))
		if len(exts) < 4+n {
			break
		}
		data := exts[4 : 4+n]
		exts = exts[4+n:]
		if typ != 51 { // key_share
			continue
		}
		if len(data) < 2 {
			return nil, ErrNotHello
		}
		shares := data[2:]
		groups := []string{}
		for len(shares) >= 4 {
			g, kl := binary.BigEndian.Uint16(shares), int(binary.BigEndian.Uint16(shares[2:]))
			if len(shares) < 4+kl {
				break
			}
			groups = append(groups, GroupName(tls.CurveID(g)))
			shares = shares[4+kl:]
		}
		return groups, nil
	}
	return []string{}, nil
}

// RecordStart is n bytes that begin a TLS application-data record (RFC
// 8446 §5.1: type 23, legacy version 3.3, length 16384) that never
// completes. Sent after STARTTLS's 220, where the server expects a
// ClientHello, its TLS library reads the 5-byte header and waits for the
// rest of the record (OpenSSL judges the type only then), so its kernel
// acknowledges the bytes and nothing else happens before the reset. It
// begins no ClientHello, whatever inspects it.
func RecordStart(n int) []byte {
	b := make([]byte, n)
	copy(b, []byte{23, 3, 3, 0x40, 0x00})
	return b
}

// HelloConn is the connection the TLS client writes to during STARTTLS
// (its Wrap is a Conn.WrapTLS). It records the ClientHello (Go writes the
// record in one Write) and, with split > 0, writes its first split bytes
// and the rest as two writes, waiting in between until TCP_INFO shows the
// first part sent, so that each part is its own segment (TCP_NODELAY,
// which Go sets).
type HelloConn struct {
	net.Conn
	raw   net.Conn // the TCP connection, for TCP_INFO
	split int

	mu       sync.Mutex
	hello    []byte // the ClientHello record as written
	writes   []int  // the sizes of its writes
	segments int    // data segments TCP_INFO counted for them (first transmissions)
}

// NewHelloConn returns a HelloConn over the TCP connection raw that
// writes the hello in two parts, the first split bytes long, when split
// is positive and less than the hello's size.
func NewHelloConn(raw net.Conn, split int) *HelloConn {
	return &HelloConn{raw: raw, split: split}
}

// Wrap is a Conn.WrapTLS that records the hello into h.
func (h *HelloConn) Wrap(nc net.Conn) net.Conn {
	h.Conn = nc
	return h
}

// Split is the size of the hello's first part; 0 when it is written whole.
func (h *HelloConn) Split() int { return h.split }

func (h *HelloConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	first := h.hello == nil && isHelloStart(p)
	if first {
		h.hello = append([]byte(nil), p...)
	}
	h.mu.Unlock()
	if !first {
		return h.Conn.Write(p)
	}
	sc, _ := h.raw.(syscall.Conn)
	var before mtu.Info
	known := false
	if sc != nil {
		var err error
		before, err = mtu.TCPInfo(sc)
		known = err == nil
	}
	parts := [][]byte{p}
	if h.split > 0 && h.split < len(p) {
		parts = [][]byte{p[:h.split], p[h.split:]}
	}
	n := 0
	for i, part := range parts {
		if i > 0 && sc != nil {
			waitSent(sc, 100*time.Millisecond)
		}
		m, err := h.Conn.Write(part)
		n += m
		h.mu.Lock()
		h.writes = append(h.writes, m)
		h.mu.Unlock()
		if err != nil {
			return n, err
		}
	}
	if known {
		waitSent(sc, 100*time.Millisecond)
		if i, err := mtu.TCPInfo(sc); err == nil {
			// tcpi_data_segs_out counts segments on the wire (a GSO
			// packet as its segments) and retransmissions too: take
			// those out.
			h.mu.Lock()
			h.segments = i.DataSegsOut - before.DataSegsOut - (i.TotalRetrans - before.TotalRetrans)
			h.mu.Unlock()
		}
	}
	return n, nil
}

// Hello returns the ClientHello record as written (nil before it was),
// the sizes of its writes, and the data segments TCP_INFO counted for
// their first transmission.
func (h *HelloConn) Hello() (hello []byte, writes []int, segments int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hello, append([]int(nil), h.writes...), h.segments
}

// waitSent waits at most d until every byte written on sc has left the
// send queue for the wire (tcpi_notsent_bytes 0).
func waitSent(sc syscall.Conn, d time.Duration) {
	end := time.Now().Add(d)
	for {
		i, err := mtu.TCPInfo(sc)
		if err != nil || i.NotSentBytes == 0 || time.Now().After(end) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
