package probetest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// DNSServer serves a fixed zone over UDP and TCP on one loopback port.
type DNSServer struct {
	Addr string // "127.0.0.1:port"

	udp, tcp *dns.Server
	mu       sync.RWMutex
	rrs      map[string][]dns.RR // by lower-case owner name
	queries  int
}

// StartDNS serves the records of zone, one RR per line in master-file
// syntax with absolute names ("mx.example.com. 300 IN A 192.0.2.1"); blank
// lines and ";" comments are ignored. listen is an address such as
// "127.0.0.1:0"; UDP and TCP share the port.
func StartDNS(listen, zone string) (*DNSServer, error) {
	s := &DNSServer{rrs: map[string][]dns.RR{}}
	if err := s.load(zone); err != nil {
		return nil, err
	}
	pc, ln, err := listenBoth(listen)
	if err != nil {
		return nil, err
	}
	s.Addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	started := make(chan struct{}, 2)
	s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-started
	<-started
	return s, nil
}

// listenBoth binds UDP and TCP on one port. With port 0 the kernel picks
// the UDP port, which may be taken for TCP; it tries a few ports.
func listenBoth(listen string) (net.PacketConn, net.Listener, error) {
	var lastErr error
	for try := 0; try < 20; try++ {
		pc, err := net.ListenPacket("udp", listen)
		if err != nil {
			return nil, nil, err
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
		if _, port, _ := net.SplitHostPort(listen); port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}

func (s *DNSServer) load(zone string) error {
	sc := bufio.NewScanner(strings.NewReader(zone))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			return fmt.Errorf("zone line %d: %w", n, err)
		}
		if rr == nil {
			continue
		}
		name := strings.ToLower(rr.Header().Name)
		s.rrs[name] = append(s.rrs[name], rr)
	}
	return sc.Err()
}

// Queries returns how many queries the server answered.
func (s *DNSServer) Queries() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.queries
}

func (s *DNSServer) serve(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	s.mu.Lock()
	s.queries++
	s.mu.Unlock()
	if len(q.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	qn := strings.ToLower(q.Question[0].Name)
	qt := q.Question[0].Qtype
	s.mu.RLock()
	defer s.mu.RUnlock()
	for hops := 0; hops < 8; hops++ {
		rrs, ok := s.rrs[qn]
		if !ok {
			if len(m.Answer) == 0 {
				m.Rcode = dns.RcodeNameError
			}
			break
		}
		var cname *dns.CNAME
		for _, rr := range rrs {
			if rr.Header().Rrtype == qt {
				m.Answer = append(m.Answer, rr)
			}
			if c, ok := rr.(*dns.CNAME); ok && qt != dns.TypeCNAME {
				cname = c
			}
		}
		if cname == nil {
			break
		}
		m.Answer = append(m.Answer, cname)
		qn = strings.ToLower(cname.Target)
	}
	if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
		// An answer too big for the client's UDP buffer is cut and
		// marked truncated (RFC 1035 §4.2.1, RFC 6891 §7): the client
		// asks again over TCP. A domain of 1,000 MX needs it.
		size := dns.MinMsgSize
		if o := q.IsEdns0(); o != nil {
			size = max(size, int(o.UDPSize()))
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

// Close stops the server.
func (s *DNSServer) Close() error {
	err1 := s.udp.Shutdown()
	err2 := s.tcp.Shutdown()
	if err1 != nil {
		return err1
	}
	return err2
}

// Replace serves the records of zone instead of the current ones from
// the next query on, as a name whose records change does (DNS rebinding).
func (s *DNSServer) Replace(zone string) error {
	n := &DNSServer{rrs: map[string][]dns.RR{}}
	if err := n.load(zone); err != nil {
		return err
	}
	s.mu.Lock()
	s.rrs = n.rrs
	s.mu.Unlock()
	return nil
}
