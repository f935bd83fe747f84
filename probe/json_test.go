package probe

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// jsonName is the JSON key of a struct field, "" for a skipped one and
// "-inline" for an embedded struct without a tag.
func jsonName(f reflect.StructField) string {
	tag, ok := f.Tag.Lookup("json")
	if !ok {
		if f.Anonymous {
			return "-inline"
		}
		return f.Name
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

// The wire structs list every JSON field of the model's structs, in the
// same order, with the same type, plus the duration fields (in
// milliseconds, named *_ms) and phase_order: a field added to the model
// and not to its wire struct fails here rather than vanishing from the
// JSON.
func TestWireFields(t *testing.T) {
	for _, tc := range []struct {
		model, wire any
		extra       map[string]string // wire-only fields: JSON name -> model field
	}{
		{Result{}, resultJSON{}, map[string]string{"phases": "Phases", "phase_order": "PhaseOrder", "idle_timeout_ms": "IdleTimeout", "timeout_ms": "Timeout", "greeting_delay_ms": "GreetingDelay"}},
		{Report{}, reportJSON{}, map[string]string{"duration_ms": "Duration"}},
		{CheckSummary{}, checkSummaryJSON{}, map[string]string{"duration_ms": "Duration"}},
	} {
		mt, wt := reflect.TypeOf(tc.model), reflect.TypeOf(tc.wire)
		var mf []reflect.StructField
		for i := 0; i < mt.NumField(); i++ {
			if f := mt.Field(i); f.IsExported() && jsonName(f) != "" {
				mf = append(mf, f)
			}
		}
		j := 0
		for i := 0; i < wt.NumField(); i++ {
			w := wt.Field(i)
			if field, ok := tc.extra[jsonName(w)]; ok {
				if _, found := mt.FieldByName(field); !found {
					t.Errorf("%s.%s (%s) stands for %s.%s, which does not exist", wt.Name(), w.Name, jsonName(w), mt.Name(), field)
				}
				continue
			}
			if j >= len(mf) {
				t.Errorf("%s.%s has no counterpart in %s", wt.Name(), w.Name, mt.Name())
				continue
			}
			m := mf[j]
			j++
			if m.Name != w.Name || m.Type != w.Type || jsonName(m) != jsonName(w) || m.Tag.Get("json") != w.Tag.Get("json") {
				t.Errorf("%s field %d is %s %s %q, %s has %s %s %q", wt.Name(), i, w.Name, w.Type, w.Tag.Get("json"), mt.Name(), m.Name, m.Type, m.Tag.Get("json"))
			}
		}
		for ; j < len(mf); j++ {
			t.Errorf("%s.%s (json %q) is missing from %s", mt.Name(), mf[j].Name, jsonName(mf[j]), wt.Name())
		}
	}
}

// Durations are milliseconds on the wire (rounded to the microsecond for
// measured times, whole for a report's duration) and come back as the
// same durations; a baseline read back keeps its phase order.
func TestReportJSONRoundTrip(t *testing.T) {
	d := func(s string) time.Duration {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	to, idle := d("300.25ms"), d("1m0.5s")
	rep := &Report{Command: "timeout", Target: "example.com", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Duration: d("1.5s") + 700*time.Microsecond, Outcome: ServerTimeout,
		Results: []Result{{Host: "mx.example.com", Address: "192.0.2.1", Port: 25, Outcome: ServerTimeout,
			Phases: map[string]time.Duration{"connect": d("290us"), "banner": d("1.9ms")}, PhaseOrder: []string{"connect", "banner"},
			Phase: "data", Timeout: &to, IdleTimeout: &idle,
			TCP:      &wire.TCPStats{RTT: d("1.234ms"), RTO: d("201ms"), SndMSS: 1448},
			MTUInfo:  &MTUInfo{Probes: []MTUProbe{{Size: 1500, RTT: d("0.5ms"), Wait: d("12.345678ms"), Attempts: 1}}},
			Timeline: []wire.Event{{At: d("1.9ms"), Kind: wire.EvReply}, {At: d("2ms"), Last: d("3ms"), Kind: wire.EvData, Count: 2, Bytes: 20}}}},
		Findings: []Finding{},
		Checks:   []CheckSummary{{Target: "example.com", Module: "m", Command: "timeout", Status: StatusCritical, Duration: d("1.5s")}},
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"duration_ms":1500,`, `"phases":{"banner":1.9,"connect":0.29},"phase_order":["connect","banner"]`,
		`"idle_timeout_ms":60500`, `"timeout_ms":300.25`, `"rtt_ms":1.234,"rto_ms":201,`, `"rtt_ms":0.5,"wait_ms":12.346,`,
		`{"t_ms":1.9,"kind":"reply"}`, `"last_ms":3`, `"status":"CRITICAL","outcome":"","duration_ms":1500`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("json.Marshal(report) = %s\nwant it to contain %s", b, want)
		}
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	r := back.Results[0]
	if back.Duration != d("1.5s") || r.Phases["banner"] != d("1.9ms") || r.Phases["connect"] != d("290us") ||
		strings.Join(r.PhaseOrder, ",") != "connect,banner" || *r.Timeout != to || *r.IdleTimeout != idle ||
		r.TCP.RTT != d("1.234ms") || r.TCP.SndMSS != 1448 || r.MTUInfo.Probes[0].Wait != d("12.346ms") ||
		r.Timeline[1].At != d("2ms") || r.Timeline[1].Last != d("3ms") || back.Checks[0].Status != StatusCritical {
		t.Errorf("json round trip = %+v, result %+v; want the durations (to the microsecond), phase order and status back", back, r)
	}
	if s := back.Status(); s != StatusCritical {
		t.Errorf("read-back check report Status() = %s, want CRITICAL from its checks", s)
	}
	if err := json.Unmarshal([]byte(`{"status":"SO-SO"}`), new(CheckSummary)); err == nil {
		t.Errorf(`json.Unmarshal(status "SO-SO") = nil error, want one`)
	}
}

// A report read back from any JSON (a baseline file) writes out as it
// reads in: what Marshal writes, Unmarshal reads to the same report.
func FuzzReportJSON(f *testing.F) {
	f.Add([]byte(`{"command":"timeout","target":"example.com","started":"2026-01-02T03:04:05Z","duration_ms":1500,"outcome":"server-timeout",` +
		`"results":[{"host":"mx","address":"192.0.2.1","port":25,"outcome":"server-timeout","phases":{"banner":1.9,"connect":0.29},"phase_order":["connect","banner"],` +
		`"timeout_ms":300.25,"idle_timeout_ms":60500,"tcp":{"rtt_ms":1.234,"rto_ms":201,"snd_mss":1448},"path_mtu":1500,"probes":[{"size":1500,"rtt_ms":0.5,"wait_ms":12.346}],` +
		`"timeline":[{"t_ms":1.9,"kind":"reply"},{"t_ms":2,"kind":"data","count":2,"last_ms":3}]}],"findings":[],` +
		`"checks":[{"target":"t","module":"m","command":"mx","status":"CRITICAL","outcome":"ok","duration_ms":31}]}`))
	f.Add([]byte(`{"results":[{"phases":null,"timeline":null}]}`))
	f.Add([]byte(`{"checks":[{"status":"SO-SO"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rep Report
		if err := json.Unmarshal(b, &rep); err != nil {
			return
		}
		out, err := json.Marshal(&rep)
		if err != nil {
			t.Fatalf("Marshal(Unmarshal(%q)): %v", b, err)
		}
		var back Report
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("Unmarshal(Marshal(...)) of %s: %v", out, err)
		}
		again, err := json.Marshal(&back)
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(out) {
			t.Errorf("JSON round trip not stable:\n%s\n%s", out, again)
		}
	})
}

func TestAppendNew(t *testing.T) {
	a := Finding{Severity: SevWarning, Code: dnscheck.CodeRcptRefused, Message: "m", Option: OptionTo}
	b := Finding{Severity: SevWarning, Code: dnscheck.CodeRcptRefused, Message: "other address"}
	for _, tc := range []struct {
		fs, more []Finding
		want     int
	}{
		{nil, []Finding{a, a, a}, 1},
		{[]Finding{a}, []Finding{a, b}, 2},
		{[]Finding{a}, []Finding{{Severity: SevWarning, Code: dnscheck.CodeRcptRefused, Message: "m"}}, 2}, // the option differs
		{nil, nil, 0},
	} {
		if got := appendNew(tc.fs, tc.more...); len(got) != tc.want {
			t.Errorf("appendNew(%v, %v) = %v, want %d findings", tc.fs, tc.more, got, tc.want)
		}
	}
}
