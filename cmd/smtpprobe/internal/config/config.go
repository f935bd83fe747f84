// Package config reads smtpprobe's YAML configuration for check and
// serve: named modules in the manner of blackbox_exporter, the targets a
// check runs, and the exporter's allowlist (serve.allow). Load returns
// errors that name the file and line ("check.yaml:12: module mx:
// timeout 0s: ...") with the keys as YAML spells them.
//
// A new config key goes here: a field of Module (or of Config or Serve)
// with its yaml tag, copied into the job in Module.Job. What the key
// means and how it is checked belongs to the job package.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/mtu/trace"
	"github.com/smtpprobe/smtpprobe/probe/assess"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// Config is a check / serve configuration file: modules in the manner of
// blackbox_exporter, the targets a check runs, and the exporter's
// allowlist.
//
//	parallel: 32           # checks at once (check); default 16
//	per_host: 4            # sessions at once per destination address; default 4
//	modules:
//	  mx:
//	    command: mx
//	    resolver: 192.0.2.53
//	    timeout: 10s
//	    warning: time=2s,cert=14
//	  blackhole:
//	    command: mtu
//	    ipv4: true
//	targets:
//	  - target: example.com
//	    modules: [mx, blackhole]
//	serve:
//	  allow: [example.com, 192.0.2.0/24]
//	  max_concurrent: 8
type Config struct {
	Parallel int                `yaml:"parallel"`
	PerHost  int                `yaml:"per_host"`
	Modules  map[string]*Module `yaml:"modules"`
	Targets  []Target           `yaml:"targets"`
	Serve    Serve              `yaml:"serve"`

	Path       string                    `yaml:"-"` // the file, for messages
	lines      map[string]int            // module name -> line, for messages
	keyLines   map[string]int            // top-level key -> line
	moduleKeys map[string]map[string]int // module name -> key -> line
	// keyBad is where checkKeys found problems: check leaves those
	// modules and targets alone, so that one mistake is reported once
	// and not again as its consequences.
	keyBad struct {
		any     bool
		modules map[string]bool
		targets map[int]bool
	}
}

// Module is one named way of probing a target.
type Module struct {
	Command        string   `yaml:"command"`
	Resolver       string   `yaml:"resolver"`
	ConnectTimeout Duration `yaml:"connect_timeout"`
	Timeout        Duration `yaml:"timeout"`
	IPv4           bool     `yaml:"ipv4"`
	IPv6           bool     `yaml:"ipv6"`
	Parallel       int      `yaml:"parallel"`
	Helo           string   `yaml:"helo"`
	NoStartTLS     bool     `yaml:"no_starttls"`
	NoPTR          bool     `yaml:"no_ptr"`
	NoPolicy       bool     `yaml:"no_policy"`  // mx: no MTA-STS, TLS-RPT or DANE lookups (issue 12)
	TLSGroups      string   `yaml:"tls_groups"` // mx, session, timeout: pq, classical or default (issue 18)
	Warning        string   `yaml:"warning"`
	Critical       string   `yaml:"critical"`

	// session and timeout
	From            string   `yaml:"from"`
	To              []string `yaml:"to"`
	StartTLS        bool     `yaml:"starttls"`
	Size            int      `yaml:"size"`
	ChunkSize       int      `yaml:"chunk_size"`
	ChunkPause      Duration `yaml:"chunk_pause"`
	PauseBeforeData Duration `yaml:"pause_before_data"`
	PauseAfterData  Duration `yaml:"pause_after_data"`
	Pipelining      bool     `yaml:"pipelining"`
	BDAT            bool     `yaml:"bdat"`
	Deliver         bool     `yaml:"deliver"`
	RetryDeferral   bool     `yaml:"retry_deferral"`
	Phase           string   `yaml:"phase"`
	MaxWait         Duration `yaml:"max_wait"`

	// mtu
	Min       int    `yaml:"min"`
	Max       int    `yaml:"max"`
	Direction string `yaml:"direction"` // out, in or both (default)

	// path (issue 20: a path module for check and serve)
	MaxHops     int `yaml:"max_hops"`
	Probes      int `yaml:"probes"`
	ComparePort int `yaml:"compare_port"`

	Name       string            `yaml:"-"` // its key under modules:
	Line       int               `yaml:"-"` // its line, for messages
	Warn, Crit assess.Thresholds `yaml:"-"` // warning: and critical:, parsed

	keys map[string]int // the keys the file sets -> their lines
}

// set reports whether the file sets key in m, so that a value written
// as zero reaches Validate instead of meaning the default.
func (m *Module) set(key string) bool { _, ok := m.keys[key]; return ok }

// lineOf is the line of key in m, or of the module when it is not set.
func (m *Module) lineOf(key string) int {
	if l, ok := m.keys[key]; ok {
		return l
	}
	return m.Line
}

// Target is one entry of targets: a target and its modules.
type Target struct {
	Target  string   `yaml:"target"`
	Module  string   `yaml:"module"`
	Modules []string `yaml:"modules"`
	Line    int      `yaml:"-"` // its line, for messages
}

// Serve configures the exporter.
type Serve struct {
	Allow          []string `yaml:"allow"`
	MaxConcurrent  int      `yaml:"max_concurrent"`
	MaxConnections int      `yaml:"max_connections"`
	// Vantage names where this exporter stands ("fra1", "home-dsl"):
	// the vantage label of every series it exports, so that one
	// Prometheus can compare several places (deploy/smtpprobe.vantage.rules.yml).
	Vantage string `yaml:"vantage"`

	Allowlist *Allowlist `yaml:"-"` // Allow, parsed
	Line      int        `yaml:"-"` // of serve:, for messages
}

// Defaults and bounds of the exporter's settings.
const (
	DefaultParallel       = 16 // checks at once
	DefaultPerHost        = 4  // sessions at once per address
	DefaultMaxConcurrent  = 8
	DefaultMaxConnections = 64
	MaxMaxConnections     = 4096
)

// Duration is a time.Duration written as "10s" in YAML.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		// A *yaml.TypeError lets the decoder go on to the other values,
		// so that one reading reports every problem (Load).
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q: want a duration such as 10s", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as people write it ("10s", "10m").
func (d Duration) MarshalYAML() (any, error) { return units.Setting(time.Duration(d)), nil }

// Settings returns the keys the file sets in m as "key: value" lines, in
// the order of Keys (for the exporter's debug output).
func (m *Module) Settings() []string {
	b, err := yaml.Marshal(m)
	if err != nil {
		return nil
	}
	var all map[string]yaml.Node
	if yaml.Unmarshal(b, &all) != nil {
		return nil
	}
	var out []string
	for _, k := range KeysIn(Modules) {
		v, ok := all[k.Name]
		if !ok || (m.keys != nil && !m.set(k.Name)) || (m.keys == nil && v.IsZero()) {
			continue
		}
		if m.keys == nil && (v.Value == "" || v.Value == "0" || v.Value == "false" || v.Value == "0s" || v.Value == "[]") && v.Kind == yaml.ScalarNode {
			continue
		}
		vb, err := yaml.Marshal(&v)
		if err != nil {
			continue
		}
		if v.Kind == yaml.SequenceNode {
			v.Style = yaml.FlowStyle
			vb, _ = yaml.Marshal(&v)
		}
		out = append(out, k.Name+": "+strings.TrimSpace(string(vb)))
	}
	return out
}

// lineError is a configuration problem at a line of the file.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// yamlLine matches the "line N: " that yaml.v3 puts in its errors.
var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// Load reads and checks a configuration file. An error reading it is
// the *fs.PathError of os.ReadFile, or a *job.FileSizeError for a file
// beyond job.ConfigLimit (read no further); every other error is an *Error of
// one line: "FILE:LINE: what is wrong, and what was expected".
func Load(path string) (*Config, error) {
	b, err := job.ReadFile(path, job.ConfigLimit)
	if err != nil {
		return nil, err
	}
	c := &Config{Path: path}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errorf(path, 0, "the file is empty: want modules: (and targets: for check, serve: {allow: [...]} for serve)")
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, c.wrap(err)
	}
	if len(root.Content) == 0 || isNull(root.Content[0]) {
		// Only comments or document markers.
		return nil, errorf(path, 0, "no settings, only comments: want modules: (and targets: for check, serve: {allow: [...]} for serve)")
	}
	// Every problem of the file is reported in one reading: the keys',
	// the values' types, and then what the values mean.
	var p problems
	keysBad := p.add(c.checkKeys(root.Content[0]))
	c.keyBad.any = keysBad
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(!keysBad) // checkKeys has named the unknown keys
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errorf(path, 0, "no settings, only comments: want modules: (and targets: for check, serve: {allow: [...]} for serve)")
		}
		te := (*yaml.TypeError)(nil)
		if !errors.As(err, &te) {
			p.add(c.wrap(err)) // the decoding stopped: nothing more to check
			return nil, p.err()
		}
		for _, msg := range te.Errors {
			p.add(c.wrap(&yaml.TypeError{Errors: []string{msg}}))
		}
	}
	c.recordLines(&root)
	p.add(c.check())
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// wrap turns a yaml.v3 error into "FILE:LINE: message".
func (c *Config) wrap(err error) error {
	var le *lineError
	if errors.As(err, &le) {
		return &Error{Path: c.Path, Line: le.line, Msg: le.msg}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if te := (*yaml.TypeError)(nil); errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Path: c.Path, Line: line, Msg: explainYAML(m[2])}
	}
	return &Error{Path: c.Path, Line: 0, Msg: msg}
}

// explainYAML rewords yaml.v3's type errors for people.
func explainYAML(s string) string {
	r := strings.NewReplacer("cannot unmarshal !!str", "cannot use text", "cannot unmarshal !!seq", "cannot use a list",
		"cannot unmarshal !!map", "cannot use a mapping", "into int", "where a whole number is expected",
		"into bool", "where true or false is expected", "into []string", "where a list is expected",
		"into config.Module", "where a module (a mapping) is expected")
	return r.Replace(s)
}

// recordLines notes the line of every module and target for messages.
func (c *Config) recordLines(root *yaml.Node) {
	c.lines = map[string]int{}
	if len(root.Content) == 0 {
		return
	}
	doc := root.Content[0]
	for i := 0; i+1 < len(doc.Content); i += 2 {
		key, val := doc.Content[i], doc.Content[i+1]
		switch key.Value {
		case "modules":
			for j := 0; j+1 < len(val.Content); j += 2 {
				c.lines[val.Content[j].Value] = val.Content[j].Line
			}
		case "serve":
			c.Serve.Line = key.Line
		case "targets":
			for j, t := range val.Content {
				if j < len(c.Targets) {
					c.Targets[j].Line = t.Line
				}
			}
		}
	}
}

// check validates the configuration: every module turns into a valid
// job (with a placeholder target), every target names known modules. It
// reports every problem it finds (problems), not only the first.
func (c *Config) check() error {
	var p problems
	at := func(line int, format string, args ...any) {
		p.add(&Error{Path: c.Path, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Parallel < 0 || c.Parallel > 1024 || (c.Parallel == 0 && c.keyLines["parallel"] > 0) {
		at(c.keyLines["parallel"], "parallel %d: want 1 to 1024", c.Parallel)
	}
	if c.PerHost < 0 || c.PerHost > 64 || (c.PerHost == 0 && c.keyLines["per_host"] > 0) {
		at(c.keyLines["per_host"], "per_host %d: want 1 to 64", c.PerHost)
	}
	if c.Parallel <= 0 || c.Parallel > 1024 {
		c.Parallel = DefaultParallel
	}
	if c.PerHost <= 0 || c.PerHost > 64 {
		c.PerHost = DefaultPerHost
	}
	if len(c.Modules) == 0 && !c.keyBad.any {
		at(0, "no modules: want a modules: mapping with at least one module")
	}
	bad := map[string]bool{} // modules with a problem: their targets are not checked against them
	for _, name := range SortedKeys(c.Modules) {
		m := c.Modules[name]
		if c.keyBad.modules[name] {
			bad[name] = true
			continue
		}
		if m == nil {
			at(c.lines[name], "module %q is empty: want at least command: mx|session|timeout|mtu", name)
			bad[name] = true
			continue
		}
		m.Name, m.Line, m.keys = name, c.lines[name], c.moduleKeys[name]
		var err error
		if m.Warn, err = assess.ParseThresholds(m.Warning); err != nil {
			at(m.lineOf("warning"), "warning: %v (module %s)", err, name)
			bad[name] = true
		}
		if m.Crit, err = assess.ParseThresholds(m.Critical); err != nil {
			at(m.lineOf("critical"), "critical: %v (module %s)", err, name)
			bad[name] = true
		}
		for _, lv := range []struct {
			key string
			t   assess.Thresholds
		}{{"warning", m.Warn}, {"critical", m.Crit}} {
			if which, why := thresholdsApply(lv.t, m.Command); which != "" {
				at(m.lineOf(lv.key), "%s: %s does not apply to module %q (command %s): %s", lv.key, which, name, m.Command, why)
				bad[name] = true
			}
		}
		placeholder := "example.com"
		if _, err := m.Job(placeholder); err != nil {
			bad[name] = true
			var fe *job.FieldError
			if errors.As(err, &fe) {
				at(m.lineOf(fe.Field), "%s (module %s)", fe.Error(), name)
				continue
			}
			at(m.Line, "module %s: %s", name, err.Error())
		}
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		if c.keyBad.targets[i] {
			continue
		}
		if t.Target == "" {
			at(t.Line, "target entry without target:")
			continue
		}
		if t.Module != "" {
			t.Modules = append([]string{t.Module}, t.Modules...)
		}
		if len(t.Modules) == 0 {
			at(t.Line, "target %s: no module: want module: NAME or modules: [NAME, ...]", t.Target)
			continue
		}
		for _, name := range t.Modules {
			m, ok := c.Modules[name]
			if !ok {
				at(t.Line, "target %s: unknown module %q%s (modules: %s)", t.Target, name,
					didYouMean(name, SortedKeys(c.Modules)), strings.Join(SortedKeys(c.Modules), ", "))
				break
			}
			if bad[name] {
				continue
			}
			if _, err := m.Job(t.Target); err != nil {
				at(t.Line, "target %s, module %s: %s", t.Target, name, err.Error())
				break
			}
		}
	}
	allow, err := ParseAllowlist(c.Serve.Allow)
	if err != nil {
		at(c.Serve.Line, "%v", err)
	}
	c.Serve.Allowlist = allow
	if c.Serve.MaxConcurrent < 0 || c.Serve.MaxConcurrent > 1024 {
		at(c.Serve.Line, "serve.max_concurrent %d: want 1 to 1024", c.Serve.MaxConcurrent)
	}
	if c.Serve.MaxConcurrent <= 0 || c.Serve.MaxConcurrent > 1024 {
		c.Serve.MaxConcurrent = DefaultMaxConcurrent
	}
	if c.Serve.MaxConnections < 0 || c.Serve.MaxConnections > MaxMaxConnections {
		at(c.Serve.Line, "serve.max_connections %d: want 1 to %d", c.Serve.MaxConnections, MaxMaxConnections)
	}
	if c.Serve.MaxConnections == 0 {
		c.Serve.MaxConnections = max(DefaultMaxConnections, 2*c.Serve.MaxConcurrent)
	}
	if err := CheckVantage(c.Serve.Vantage); err != nil {
		at(c.Serve.Line, "serve.vantage %q: %v", c.Serve.Vantage, err)
	}
	return p.err()
}

// thresholdsApply returns a threshold of t that command never measures,
// as written ("mtu=1400"), and why, or "": an idle timeout is measured
// only by timeout, a path MTU only by mtu.
func thresholdsApply(t assess.Thresholds, command string) (which, why string) {
	switch {
	case t.Timeout > 0 && command != "timeout":
		return "timeout=" + units.Setting(t.Timeout), "only a timeout module measures the server's idle timeout"
	case t.MTU > 0 && command != "mtu":
		return fmt.Sprintf("mtu=%d", t.MTU), "only an mtu module measures a path MTU"
	}
	return "", ""
}

// Job builds and validates the job this module runs against target.
// Its error is the job's: a *job.FieldError, whose Field is the YAML key,
// or a *job.InputError.
func (m *Module) Job(target string) (*job.Job, error) {
	j := job.New(m.Command)
	j.Target = target
	j.Resolver = m.Resolver
	if m.ConnectTimeout > 0 || m.set("connect_timeout") {
		j.ConnectTimeout = time.Duration(m.ConnectTimeout)
	}
	if m.Timeout > 0 || m.set("timeout") {
		j.ReplyTimeout = time.Duration(m.Timeout)
	}
	j.IPv4, j.IPv6 = m.IPv4, m.IPv6
	if m.Parallel != 0 || m.set("parallel") {
		j.Parallel = m.Parallel
	}
	j.Helo, j.NoStartTLS, j.NoPTR, j.NoPolicy = m.Helo, m.NoStartTLS, m.NoPTR, m.NoPolicy
	j.TLSGroups = m.TLSGroups
	switch m.Command {
	case "session":
		o := &j.Session
		o.From, o.To, o.StartTLS = m.From, append([]string(nil), m.To...), m.StartTLS
		if m.Size != 0 || m.set("size") {
			o.Size = m.Size
		}
		o.ChunkSize = m.ChunkSize
		o.ChunkPause, o.PauseBeforeData, o.PauseAfterData = time.Duration(m.ChunkPause), time.Duration(m.PauseBeforeData), time.Duration(m.PauseAfterData)
		o.Pipelining, o.BDAT, o.Deliver = m.Pipelining, m.BDAT, m.Deliver
		o.RetryDeferral = m.RetryDeferral
	case "timeout":
		if m.Phase != "" || m.set("phase") {
			j.Phase = m.Phase
		}
		if m.MaxWait > 0 || m.set("max_wait") {
			j.Timeout.MaxWait = time.Duration(m.MaxWait)
		}
		j.Timeout.From, j.Timeout.StartTLS = m.From, m.StartTLS
		j.Timeout.RetryDeferral = m.RetryDeferral
		if len(m.To) > 0 {
			j.Timeout.To = m.To[0]
		}
		j.PauseCmp = map[string]time.Duration{"pause-before-data": time.Duration(m.PauseBeforeData),
			"pause-after-data": time.Duration(m.PauseAfterData), "chunk-pause": time.Duration(m.ChunkPause)}
	case "mtu":
		j.MTU.Min, j.MTU.Max, j.MTU.From = m.Min, m.Max, m.From
		if m.Direction != "" || m.set("direction") {
			j.MTU.Direction = m.Direction
		}
		if len(m.To) > 0 {
			j.MTU.To = m.To[0]
		}
	case "path":
		if m.MaxHops != 0 || m.set("max_hops") {
			if m.MaxHops < 1 {
				return nil, &job.FieldError{Field: "max_hops", Value: fmt.Sprint(m.MaxHops), Reason: fmt.Sprintf("want 1 to %d", trace.MaxMaxHops)}
			}
			j.Path.MaxHops = m.MaxHops
		}
		if m.Probes != 0 || m.set("probes") {
			if m.Probes < 1 {
				return nil, &job.FieldError{Field: "probes", Value: fmt.Sprint(m.Probes), Reason: "want 1 to 10 SYNs per hop"}
			}
			j.Path.Probes = m.Probes
		}
		if m.ComparePort != 0 || m.set("compare_port") {
			if m.ComparePort < 1 || m.ComparePort > 65535 {
				return nil, &job.FieldError{Field: "compare_port", Value: fmt.Sprint(m.ComparePort), Reason: "want a port from 1 to 65535"}
			}
			j.Path.ComparePort = uint16(m.ComparePort)
		}
	}
	if err := j.Validate(); err != nil {
		return nil, err
	}
	return j, nil
}

// CheckServe is what serve demands of a configuration beyond check's:
// an allowlist with at least one network, since every address the
// exporter connects to must lie in one, and no module that delivers
// mail, since a scrape must never send a message.
func (c *Config) CheckServe() error {
	if len(c.Serve.Allow) == 0 {
		return errorf(c.Path, 0, "no serve.allow: add serve: {allow: [DOMAIN or CIDR, ...]} listing what the exporter may probe")
	}
	if !c.Serve.Allowlist.Networks() {
		return errorf(c.Path, c.Serve.Line, "serve.allow names no network: the exporter checks every address it connects to (the MX hosts' included) against the networks of serve.allow; add them, such as 192.0.2.0/24 or 2001:db8::/32")
	}
	for _, name := range SortedKeys(c.Modules) {
		if m := c.Modules[name]; m.Deliver {
			return errorf(c.Path, m.Line, "module %s: deliver: true: serve never delivers mail (every scrape would send a message); remove it, or run that module with check only", name)
		}
	}
	return nil
}

// LoadServe is Load and then CheckServe: the configuration of the
// exporter, at start and on every reload.
func LoadServe(path string) (*Config, error) {
	c, err := Load(path)
	if err != nil {
		return nil, err
	}
	if err := c.CheckServe(); err != nil {
		return nil, err
	}
	return c, nil
}

// Error is a problem in a configuration file, at a line when Line > 0.
// Also holds the further problems found in the same reading, so that one
// run (check --validate, say) lists every mistake, not one per run; its
// text is one line per problem, in the order of the file.
type Error struct {
	Path string
	Line int
	Msg  string
	Also []*Error
	// More counts the problems beyond MaxErrors that were not kept.
	More int
}

// MaxErrors is how many problems of a file one reading reports.
const MaxErrors = 20

func (e *Error) Error() string {
	s := e.line()
	for _, a := range e.Also {
		s += "\n" + a.line()
	}
	if e.More > 0 {
		s += fmt.Sprintf("\n%s: and %d more problems (the first %d are listed)", e.Path, e.More, MaxErrors)
	}
	return s
}

func (e *Error) line() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// problems collects the problems of one reading of a file: at most one per
// line (a mistake often upsets the later checks of its line too), at most
// MaxErrors in all.
type problems struct {
	list  []*Error
	lines map[int]bool
	more  int
}

// add records err (an *Error, or a list of them) and reports whether
// there was one.
func (p *problems) add(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	for _, x := range append([]*Error{{Path: e.Path, Line: e.Line, Msg: e.Msg}}, e.Also...) {
		if x.Line > 0 && p.lines[x.Line] {
			continue
		}
		if p.lines == nil {
			p.lines = map[int]bool{}
		}
		p.lines[x.Line] = true
		if len(p.list) == MaxErrors {
			p.more++
			continue
		}
		p.list = append(p.list, x)
	}
	p.more += e.More
	return true
}

// err is the problems as one *Error, in the order of the file, or nil.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	sort.SliceStable(p.list, func(i, j int) bool { return p.list[i].Line < p.list[j].Line })
	first := *p.list[0]
	first.Also, first.More = p.list[1:], p.more
	return &first
}

func errorf(path string, line int, format string, args ...any) error {
	return &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// SortedKeys returns m's keys in order, for messages and listings.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// vantageRE is what a vantage name may be: a short word of letters,
// digits, dot, dash and underscore, fit for a label value and a legend.
var vantageRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// CheckVantage checks a vantage name (serve.vantage, --vantage); "" is
// none.
func CheckVantage(v string) error {
	if v == "" || vantageRE.MatchString(v) {
		return nil
	}
	return errors.New("want a short name of letters, digits, '.', '-' and '_' (at most 63), such as fra1 or home-dsl")
}
