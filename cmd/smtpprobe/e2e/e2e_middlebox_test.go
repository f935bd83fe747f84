package e2e

// End-to-end tests of issue 18, item 5: post-quantum ClientHellos and
// middleboxes. The built binary runs in the lab's client namespace against
// the real Postfix and its real certificate chain, over IPv4 and IPv6:
//
//   - a clean 1500-byte path: ok, with the hello's key shares reported;
//   - the same path with lab.sh's middlebox on r1 (it drops segments to
//     port 25 that begin a ClientHello in packets over 1000 bytes): mx says
//     tls-middlebox, with the MX's TLS still evaluated over a classical
//     hello, and mtu on the same path finds no black hole;
//   - --tls-groups classical on the middlebox path: ok;
//   - a PMTU black hole (bottleneck 1400, r1 drops frag-needed and
//     packet-too-big): still pmtu-blackhole, with TLS evaluated over the
//     same hello written in two halves, and mtu agreeing.
//
// Every verdict is run twice in a row, and no cache is flushed between
// runs or anywhere on the server: the retries must not teach the server a
// path MTU that hides the next run's answer.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe"
)

// SetMiddlebox switches lab.sh's ClientHello-dropping middlebox on r1.
func (l *Lab) SetMiddlebox(t testing.TB, mode string) {
	t.Helper()
	l.run(t, "middlebox", l.ID, mode)
}

// middleboxDrops reads the packets the middlebox rule on r1 has dropped
// (its nftables counter), the wire's evidence that it saw a ClientHello.
func (l *Lab) middleboxDrops(t testing.TB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, errOut, exit := l.ExecNS(t, ctx, l.R1NS, "nft", "list", "chain", "inet", "smtpprobe_lab", "middlebox")
	if exit != 0 {
		t.Fatalf("nft list chain middlebox on r1: exit %d: %s", exit, errOut)
	}
	i := strings.Index(out, "counter packets ")
	if i < 0 {
		return 0
	}
	var n int
	fmt.Sscanf(out[i+len("counter packets "):], "%d", &n)
	return n
}

// helloTLS is the part of results[].tls these tests read.
type helloTLS struct {
	Version    string   `json:"version"`
	Names      []string `json:"names"`
	Verified   bool     `json:"verified"`
	KeyShare   []string `json:"key_share"`
	HelloBytes int      `json:"hello_bytes"`
	Group      string   `json:"group"`
	HelloStall *struct {
		Hello struct {
			KeyShare []string `json:"key_share"`
			Bytes    int      `json:"bytes"`
		} `json:"hello"`
		LostPacket  int `json:"lost_packet"`
		FullSegment *struct {
			Packet int  `json:"packet"`
			Passed bool `json:"passed"`
		} `json:"full_segment"`
		Retry *struct {
			Kind     string `json:"kind"`
			Writes   []int  `json:"writes"`
			Segments int    `json:"segments"`
			Passed   bool   `json:"passed"`
		} `json:"retry"`
		Verdict string `json:"verdict"`
	} `json:"hello_stall"`
}

type helloResult struct {
	Address string    `json:"address"`
	Outcome string    `json:"outcome"`
	Error   string    `json:"error"`
	TLS     *helloTLS `json:"tls"`
}

// mxHello runs mx ok.lab.example over one family and decodes its one result.
func mxHello(t *testing.T, l *Lab, bin string, env []string, args ...string) (mxRun, mxReport, helloResult) {
	t.Helper()
	argv := append([]string{"ok.lab.example", "--json", "--resolver", l.DNS + ":53", "--connect-timeout", "2s", "--timeout", blackholeTimeout}, args...)
	r := runMXBinaryEnv(t, l, bin, env, argv...)
	rep := decodeReport(t, r)
	var doc struct {
		Results []helloResult `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Results) != 1 {
		t.Fatalf("mx(%s) results = %d (%v), want one\n%s", r.in, len(doc.Results), err, r.stdout)
	}
	res := doc.Results[0]
	share := []string(nil)
	if res.TLS != nil {
		share = res.TLS.KeyShare
	}
	t.Logf("mx(%s): exit %d, %s, tls.key_share %q, %v", r.in, r.exit, res.Outcome, share, r.elapsed.Round(time.Millisecond))
	return r, rep, res
}

// wantTLSEvaluated checks that the MX's certificate was evaluated: the lab
// chain's names, verified against the lab root (SSL_CERT_FILE).
func wantTLSEvaluated(t *testing.T, r mxRun, res helloResult) {
	t.Helper()
	if res.TLS == nil || res.TLS.Version == "" || !slices.Contains(res.TLS.Names, "mx1.lab.example") || !res.TLS.Verified {
		t.Errorf("mx(%s) tls = %+v, want the lab certificate (mx1.lab.example) evaluated and verified", r.in, res.TLS)
	}
}

// mtuVerdict runs mtu ADDR (client to server only) and returns its verdict.
func mtuVerdict(t *testing.T, l *Lab, bin, addr string) string {
	t.Helper()
	r := runMTUBinary(t, l, bin, append(mtuLabArgs(l), addr, "--direction", "out")...)
	rep := decodeMTU(t, r)
	res := oneMTUResult(t, r, rep, addr)
	v := ""
	if res.Verdict != nil {
		v = *res.Verdict
	}
	t.Logf("mtu(%s): verdict %s, path MTU %s", r.in, v, intp(res.PathMTU))
	return v
}

func TestE2EMiddlebox(t *testing.T) {
	t.Parallel()
	bin := smtpprobeBinary(t)
	trusted := func(l *Lab) []string { return []string{"SSL_CERT_FILE=" + l.TLSCert} }

	t.Run("clean-path", func(t *testing.T) {
		t.Parallel()
		l := startLab(t, "--mtu", "1500")
		for _, fam := range mtuFamilies {
			t.Run(fam.flag, func(t *testing.T) {
				for run := 1; run <= 2; run++ {
					r, rep, res := mxHello(t, l, bin, trusted(l), fam.flag)
					if r.exit != 0 || res.Outcome != "ok" {
						t.Errorf("run %d: mx(%s) = exit %d, outcome %q (%s), want exit 0, ok", run, r.in, r.exit, res.Outcome, res.Error)
					}
					wantTLSEvaluated(t, r, res)
					if res.TLS != nil && (!slices.Equal(res.TLS.KeyShare, []string{"X25519MLKEM768", "x25519"}) || res.TLS.HelloBytes < 1400 || res.TLS.HelloStall != nil) {
						t.Errorf("run %d: mx(%s) tls key_share %q, hello_bytes %d, hello_stall %v; want X25519MLKEM768, x25519 in a hello over 1400 bytes, no stall",
							run, r.in, res.TLS.KeyShare, res.TLS.HelloBytes, res.TLS.HelloStall)
					}
					if codes := findingCodes(rep); slices.Contains(codes, dnscheck.CodeTLSMiddlebox) || slices.Contains(codes, dnscheck.CodePMTUBlackhole) {
						t.Errorf("run %d: mx(%s) findings %q, want neither middlebox nor black hole", run, r.in, codes)
					}
				}
			})
		}

		l.SetMiddlebox(t, "on")
		t.Run("middlebox", func(t *testing.T) {
			for _, fam := range mtuFamilies {
				t.Run(fam.flag, func(t *testing.T) {
					before := l.middleboxDrops(t)
					for run := 1; run <= 2; run++ {
						r, rep, res := mxHello(t, l, bin, trusted(l), fam.flag)
						if r.exit != 2 || rep.Outcome != string(probe.TLSMiddlebox) || res.Outcome != string(probe.TLSMiddlebox) {
							t.Errorf("run %d: mx(%s) = exit %d, outcome %q (result %q: %s), want exit 2, tls-middlebox", run, r.in, r.exit, rep.Outcome, res.Outcome, res.Error)
						}
						if r.elapsed >= blackholeVerdictMax {
							t.Errorf("run %d: mx(%s) took %v, want < %v at --timeout %s", run, r.in, r.elapsed.Round(time.Millisecond), blackholeVerdictMax, blackholeTimeout)
						}
						wantTLSEvaluated(t, r, res)
						if s := res.TLS.HelloStall; s == nil || s.Verdict != string(probe.TLSMiddlebox) || s.FullSegment == nil || !s.FullSegment.Passed || s.FullSegment.Packet != 1500 ||
							s.Retry == nil || s.Retry.Kind != "classical" || !s.Retry.Passed || !slices.Contains(s.Hello.KeyShare, "X25519MLKEM768") {
							t.Errorf("run %d: mx(%s) tls.hello_stall = %+v, want the X25519MLKEM768 hello stalled, 1500-byte full-size segments passed, a classical retry passed", run, r.in, s)
						}
						if res.TLS != nil && !slices.Equal(res.TLS.KeyShare, []string{"x25519"}) {
							t.Errorf("run %d: mx(%s) tls.key_share = %q, want [x25519] (the classical hello that passed)", run, r.in, res.TLS.KeyShare)
						}
						if _, ok := findingWith(rep, dnscheck.CodeTLSMiddlebox, "X25519MLKEM768", "not a PMTU black hole", "classical", "openssl/openssl#27557", "tldr.fail"); !ok {
							t.Errorf("run %d: mx(%s) findings = %+v, want tls-middlebox naming the key share, the evidence, the workaround and the field reports", run, r.in, rep.Findings)
						}
						if codes := findingCodes(rep); slices.Contains(codes, dnscheck.CodePMTUBlackhole) {
							t.Errorf("run %d: mx(%s) findings %q, want no pmtu-blackhole on a clean path", run, r.in, codes)
						}
					}
					if after := l.middleboxDrops(t); after <= before {
						t.Errorf("middlebox counter on r1: %d packets before, %d after, want the stalled hellos dropped there", before, after)
					}
					// The certificate is evaluated as today: untrusted, the
					// lab chain does not verify, and mx says so.
					r, rep, res := mxHello(t, l, bin, nil, fam.flag)
					if res.Outcome != string(probe.TLSMiddlebox) || res.TLS == nil || res.TLS.Verified || !slices.Contains(findingCodes(rep), dnscheck.CodeTLSVerifyFailed) {
						t.Errorf("mx(%s) without the lab root = %q, tls %+v, findings %q; want tls-middlebox with tls-verify-failed", r.in, res.Outcome, res.TLS, findingCodes(rep))
					}
					// mtu on the same path: no bottleneck, never a black hole.
					if v := mtuVerdict(t, l, bin, fam.addr); v != "no-bottleneck" {
						t.Errorf("mtu %s on the middlebox path: verdict %q, want no-bottleneck (mx says tls-middlebox)", fam.addr, v)
					}
				})
			}
		})

		t.Run("middlebox-classical", func(t *testing.T) {
			for _, fam := range mtuFamilies {
				t.Run(fam.flag, func(t *testing.T) {
					for run := 1; run <= 2; run++ {
						r, _, res := mxHello(t, l, bin, trusted(l), fam.flag, "--tls-groups", "classical")
						if r.exit != 0 || res.Outcome != "ok" {
							t.Errorf("run %d: mx(%s) = exit %d, outcome %q (%s), want exit 0, ok", run, r.in, r.exit, res.Outcome, res.Error)
						}
						wantTLSEvaluated(t, r, res)
						if res.TLS != nil && (!slices.Equal(res.TLS.KeyShare, []string{"x25519"}) || res.TLS.HelloBytes > 1000 || res.TLS.HelloStall != nil) {
							t.Errorf("run %d: mx(%s) tls key_share %q, hello_bytes %d, hello_stall %v; want [x25519] in a hello under 1000 bytes, no stall",
								run, r.in, res.TLS.KeyShare, res.TLS.HelloBytes, res.TLS.HelloStall)
						}
					}
				})
			}
		})
	})

	t.Run("blackhole", func(t *testing.T) {
		t.Parallel()
		l := startLab(t, "--mtu", "1400", "--icmp", "drop")
		for _, fam := range mtuFamilies {
			t.Run(fam.flag, func(t *testing.T) {
				for run := 1; run <= 2; run++ {
					r, rep, res := mxHello(t, l, bin, trusted(l), fam.flag)
					if r.exit != 2 || rep.Outcome != string(probe.PMTUBlackhole) || res.Outcome != string(probe.PMTUBlackhole) {
						t.Errorf("run %d: mx(%s) = exit %d, outcome %q (result %q: %s), want exit 2, pmtu-blackhole", run, r.in, r.exit, rep.Outcome, res.Outcome, res.Error)
					}
					if r.elapsed >= blackholeVerdictMax {
						t.Errorf("run %d: mx(%s) took %v, want < %v at --timeout %s", run, r.in, r.elapsed.Round(time.Millisecond), blackholeVerdictMax, blackholeTimeout)
					}
					wantTLSEvaluated(t, r, res)
					if s := res.TLS.HelloStall; s == nil || s.Verdict != string(probe.PMTUBlackhole) || s.FullSegment == nil || s.FullSegment.Passed || s.FullSegment.Packet != 1500 ||
						s.Retry == nil || s.Retry.Kind != "split" || !s.Retry.Passed || len(s.Retry.Writes) != 2 || s.Retry.Segments != 2 || max(s.Retry.Writes[0], s.Retry.Writes[1]) >= 1400 {
						t.Errorf("run %d: mx(%s) tls.hello_stall = %+v, want 1500-byte full-size segments lost, the hello split in two writes (two segments) passed", run, r.in, s)
					}
					if _, ok := findingWith(rep, dnscheck.CodePMTUBlackhole, "client-to-server", "ClientHello", "1500-byte packets vanish"); !ok {
						t.Errorf("run %d: mx(%s) findings = %+v, want pmtu-blackhole", run, r.in, rep.Findings)
					}
					if codes := findingCodes(rep); slices.Contains(codes, dnscheck.CodeTLSMiddlebox) {
						t.Errorf("run %d: mx(%s) findings %q, want no tls-middlebox on a black hole", run, r.in, codes)
					}
				}
				if v := mtuVerdict(t, l, bin, fam.addr); v != string(mtu.VerdictBlackhole) {
					t.Errorf("mtu %s on the black-hole path: verdict %q, want pmtu-blackhole (mx says so)", fam.addr, v)
				}
			})
		}
	})
}
