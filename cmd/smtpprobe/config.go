package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/smtpprobe/smtpprobe/probe"
)

// config is a check / serve configuration file: modules in the manner of
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
type config struct {
	Parallel int                `yaml:"parallel"`
	PerHost  int                `yaml:"per_host"`
	Modules  map[string]*module `yaml:"modules"`
	Targets  []targetSpec       `yaml:"targets"`
	Serve    serveSpec          `yaml:"serve"`

	path  string
	lines map[string]int // module name -> line, for messages
}

// module is one named way of probing a target.
type module struct {
	Command        string   `yaml:"command"`
	Resolver       string   `yaml:"resolver"`
	ConnectTimeout duration `yaml:"connect_timeout"`
	Timeout        duration `yaml:"timeout"`
	IPv4           bool     `yaml:"ipv4"`
	IPv6           bool     `yaml:"ipv6"`
	Parallel       int      `yaml:"parallel"`
	Helo           string   `yaml:"helo"`
	NoStartTLS     bool     `yaml:"no_starttls"`
	NoPTR          bool     `yaml:"no_ptr"`
	Warning        string   `yaml:"warning"`
	Critical       string   `yaml:"critical"`

	// session and timeout
	From            string   `yaml:"from"`
	To              []string `yaml:"to"`
	StartTLS        bool     `yaml:"starttls"`
	Size            int      `yaml:"size"`
	ChunkSize       int      `yaml:"chunk_size"`
	ChunkPause      duration `yaml:"chunk_pause"`
	PauseBeforeData duration `yaml:"pause_before_data"`
	PauseAfterData  duration `yaml:"pause_after_data"`
	Pipelining      bool     `yaml:"pipelining"`
	BDAT            bool     `yaml:"bdat"`
	Deliver         bool     `yaml:"deliver"`
	Phase           string   `yaml:"phase"`
	MaxWait         duration `yaml:"max_wait"`

	// mtu
	Min       int    `yaml:"min"`
	Max       int    `yaml:"max"`
	Direction string `yaml:"direction"` // out, in or both (default)

	name       string
	line       int
	warn, crit probe.Thresholds
}

// targetSpec is one entry of targets: a target and its modules.
type targetSpec struct {
	Target  string   `yaml:"target"`
	Module  string   `yaml:"module"`
	Modules []string `yaml:"modules"`
	line    int
}

// serveSpec configures the exporter.
type serveSpec struct {
	Allow          []string `yaml:"allow"`
	MaxConcurrent  int      `yaml:"max_concurrent"`
	MaxConnections int      `yaml:"max_connections"`

	allow *allowlist
	line  int // of serve:, for messages
}

// Defaults and bounds of the exporter's settings.
const (
	defaultMaxConcurrent  = 8
	defaultMaxConnections = 64
	maxMaxConnections     = 4096
)

// duration is a time.Duration written as "10s" in YAML.
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return &lineError{n.Line, fmt.Sprintf("%q: want a duration such as 10s", n.Value)}
	}
	*d = duration(v)
	return nil
}

// lineError is a configuration problem at a line of the file.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// yamlLine matches the "line N: " that yaml.v3 puts in its errors.
var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// loadConfig reads and checks a configuration file. Every error is one
// line: "FILE:LINE: what is wrong, and what was expected".
func loadConfig(path string) (*config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--config: %v", err)
	}
	c := &config{path: path}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, usagef("%s: the file is empty: want modules: (and targets: for check, serve: {allow: [...]} for serve)", path)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			// Only comments or document markers.
			return nil, usagef("%s: no settings, only comments: want modules: (and targets: for check, serve: {allow: [...]} for serve)", path)
		}
		return nil, c.wrap(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err == nil {
		c.recordLines(&root)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// wrap turns a yaml.v3 error into "FILE:LINE: message".
func (c *config) wrap(err error) error {
	var le *lineError
	if errors.As(err, &le) {
		return usagef("%s:%d: %s", c.path, le.line, le.msg)
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if te := (*yaml.TypeError)(nil); errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return usagef("%s:%s: %s", c.path, m[1], explainYAML(m[2]))
	}
	return usagef("%s: %s", c.path, msg)
}

// explainYAML rewords yaml.v3's type errors for people.
func explainYAML(s string) string {
	r := strings.NewReplacer("cannot unmarshal !!str", "cannot use text", "cannot unmarshal !!seq", "cannot use a list",
		"cannot unmarshal !!map", "cannot use a mapping", "into int", "where a whole number is expected",
		"into bool", "where true or false is expected", "into []string", "where a list is expected",
		"into main.module", "where a module (a mapping) is expected")
	return r.Replace(s)
}

// recordLines notes the line of every module and target for messages.
func (c *config) recordLines(root *yaml.Node) {
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
			c.Serve.line = key.Line
		case "targets":
			for j, t := range val.Content {
				if j < len(c.Targets) {
					c.Targets[j].line = t.Line
				}
			}
		}
	}
}

// check validates the configuration: every module turns into a valid
// job (with a placeholder target), every target names known modules.
func (c *config) check() error {
	at := func(line int, format string, args ...any) error {
		return usagef("%s:%d: %s", c.path, line, fmt.Sprintf(format, args...))
	}
	if c.Parallel < 0 || c.Parallel > 1024 {
		return usagef("%s: parallel %d: want 1 to 1024", c.path, c.Parallel)
	}
	if c.PerHost < 0 || c.PerHost > 64 {
		return usagef("%s: per_host %d: want 1 to 64", c.path, c.PerHost)
	}
	if c.Parallel == 0 {
		c.Parallel = 16
	}
	if c.PerHost == 0 {
		c.PerHost = 4
	}
	if len(c.Modules) == 0 {
		return usagef("%s: no modules: want a modules: mapping with at least one module", c.path)
	}
	for name, m := range c.Modules {
		if m == nil {
			return at(c.lines[name], "module %q is empty: want at least command: mx|session|timeout|mtu", name)
		}
		m.name, m.line = name, c.lines[name]
		var err error
		if m.warn, err = probe.ParseThresholds(m.Warning); err != nil {
			return at(m.line, "module %s: warning: %v", name, err)
		}
		if m.crit, err = probe.ParseThresholds(m.Critical); err != nil {
			return at(m.line, "module %s: critical: %v", name, err)
		}
		placeholder := "example.com"
		if _, err := m.job(placeholder); err != nil {
			return at(m.line, "module %s: %s", name, usageText(err))
		}
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.Target == "" {
			return at(t.line, "target entry without target:")
		}
		if t.Module != "" {
			t.Modules = append([]string{t.Module}, t.Modules...)
		}
		if len(t.Modules) == 0 {
			return at(t.line, "target %s: no module: want module: NAME or modules: [NAME, ...]", t.Target)
		}
		for _, name := range t.Modules {
			m, ok := c.Modules[name]
			if !ok {
				return at(t.line, "target %s: unknown module %q (modules: %s)", t.Target, name, strings.Join(sortedKeys(c.Modules), ", "))
			}
			if _, err := m.job(t.Target); err != nil {
				return at(t.line, "target %s, module %s: %s", t.Target, name, usageText(err))
			}
		}
	}
	allow, err := parseAllowlist(c.Serve.Allow)
	if err != nil {
		return at(c.Serve.line, "%v", err)
	}
	c.Serve.allow = allow
	if c.Serve.MaxConcurrent < 0 || c.Serve.MaxConcurrent > 1024 {
		return at(c.Serve.line, "serve.max_concurrent %d: want 1 to 1024", c.Serve.MaxConcurrent)
	}
	if c.Serve.MaxConcurrent == 0 {
		c.Serve.MaxConcurrent = defaultMaxConcurrent
	}
	if c.Serve.MaxConnections < 0 || c.Serve.MaxConnections > maxMaxConnections {
		return at(c.Serve.line, "serve.max_connections %d: want 1 to %d", c.Serve.MaxConnections, maxMaxConnections)
	}
	if c.Serve.MaxConnections == 0 {
		c.Serve.MaxConnections = max(defaultMaxConnections, 2*c.Serve.MaxConcurrent)
	}
	return nil
}

// usageText returns the message of a usage error without decoration.
func usageText(err error) string {
	var ue *usageError
	if errors.As(err, &ue) {
		return ue.msg
	}
	return err.Error()
}

// job builds and validates the job this module runs against target.
func (m *module) job(target string) (*job, error) {
	j := newJob(m.Command)
	j.Target = target
	j.Resolver = m.Resolver
	if m.ConnectTimeout > 0 {
		j.ConnectTimeout = time.Duration(m.ConnectTimeout)
	}
	if m.Timeout > 0 {
		j.ReplyTimeout = time.Duration(m.Timeout)
	}
	j.IPv4, j.IPv6 = m.IPv4, m.IPv6
	if m.Parallel != 0 {
		j.Parallel = m.Parallel
	}
	j.Helo, j.NoStartTLS, j.NoPTR = m.Helo, m.NoStartTLS, m.NoPTR
	switch m.Command {
	case "session":
		o := &j.Session
		o.From, o.To, o.StartTLS = m.From, append([]string(nil), m.To...), m.StartTLS
		if m.Size != 0 {
			o.Size = m.Size
		}
		o.ChunkSize = m.ChunkSize
		o.ChunkPause, o.PauseBeforeData, o.PauseAfterData = time.Duration(m.ChunkPause), time.Duration(m.PauseBeforeData), time.Duration(m.PauseAfterData)
		o.Pipelining, o.BDAT, o.Deliver = m.Pipelining, m.BDAT, m.Deliver
	case "timeout":
		if m.Phase != "" {
			j.Phase = m.Phase
		}
		if m.MaxWait > 0 {
			j.Timeout.MaxWait = time.Duration(m.MaxWait)
		}
		j.Timeout.From, j.Timeout.StartTLS = m.From, m.StartTLS
		if len(m.To) > 0 {
			j.Timeout.To = m.To[0]
		}
		j.PauseCmp = map[string]time.Duration{"pause-before-data": time.Duration(m.PauseBeforeData),
			"pause-after-data": time.Duration(m.PauseAfterData), "chunk-pause": time.Duration(m.ChunkPause)}
	case "mtu":
		j.MTU.Min, j.MTU.Max, j.MTU.From = m.Min, m.Max, m.From
		if m.Direction != "" {
			j.MTU.Direction = m.Direction
		}
		if len(m.To) > 0 {
			j.MTU.To = m.To[0]
		}
	}
	if err := j.validate(); err != nil {
		return nil, err
	}
	return j, nil
}

// checkServe is what serve demands of a configuration beyond check's:
// an allowlist with at least one network, since every address the
// exporter connects to must lie in one, and no module that delivers
// mail, since a scrape must never send a message.
func (c *config) checkServe() error {
	if len(c.Serve.Allow) == 0 {
		return usagef("%s: no serve.allow: add serve: {allow: [DOMAIN or CIDR, ...]} listing what the exporter may probe", c.path)
	}
	if !c.Serve.allow.networks() {
		return usagef("%s:%d: serve.allow names no network: the exporter checks every address it connects to (the MX hosts' included) against the networks of serve.allow; add them, such as 192.0.2.0/24 or 2001:db8::/32", c.path, c.Serve.line)
	}
	for _, name := range sortedKeys(c.Modules) {
		if m := c.Modules[name]; m.Deliver {
			return usagef("%s:%d: module %s: deliver: true: serve never delivers mail (every scrape would send a message); remove it, or run that module with check only", c.path, m.line, name)
		}
	}
	return nil
}
