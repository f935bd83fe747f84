package e2e

// Issue 20, friction 6: `mx ADDRESS` probes that address, as check_smtp
// -H does, with no MX lookup and a note that says so (before: refused,
// "is an address; mx wants a domain", exit 3).

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

func TestCLIMXAddress(t *testing.T) {
	bin := cliPrereqs(t)
	t.Parallel()
	port := localSMTP(t)
	dns, err := probetest.StartDNS("127.0.0.1:0", "") // knows no names; counts queries
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dns.Close() })
	args := []string{"mx", "127.0.0.1:" + port, "--resolver", dns.Addr, "--no-ptr", "--connect-timeout", "2s", "--timeout", "5s"}
	text := runCLI(t, nil, bin, args...)
	if text.code != 0 || !strings.Contains(text.stdout, "127.0.0.1:"+port) || !strings.Contains(text.stdout, "without an MX lookup") {
		t.Errorf("mx 127.0.0.1:%s = %d\n%s%s\nwant exit 0, the address probed and a note that no MX was looked up", port, text.code, text.stdout, text.stderr)
	}
	js := runCLI(t, nil, bin, append(args, "--json")...)
	var rep struct {
		Outcome  string
		Results  []struct{ Address, Outcome string }
		Findings []struct{ Severity, Code string }
	}
	if err := json.Unmarshal([]byte(js.stdout), &rep); err != nil {
		t.Fatalf("mx --json: %v\n%s", err, js.stdout)
	}
	note := false
	for _, f := range rep.Findings {
		note = note || f.Code == dnscheck.CodeMXAddress && f.Severity == "info"
	}
	if rep.Outcome != "ok" || len(rep.Results) != 1 || rep.Results[0].Address != "127.0.0.1" || !note {
		t.Errorf("mx 127.0.0.1 --json = %+v, want one ok result for 127.0.0.1 and an info mx-address finding", rep)
	}
	if n := dns.Queries(); n != 0 {
		t.Errorf("mx 127.0.0.1 --no-ptr sent %d DNS queries, want none", n)
	}
}
