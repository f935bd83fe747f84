package batch

import (
	"fmt"
	"slices"
	"strings"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/probe/assess"
)

// Checks builds the checks of cfg in its order: targets as listed, each
// with its modules as listed, judged by each module's thresholds overlaid
// with warn and crit. Non-empty modules or targets keep only those (as
// written in the file). A name that is not in the file is a
// *job.FieldError for "only_module" or "only_target"; a pair listed twice
// or nothing left to run is a *job.InputError.
func Checks(cfg *config.Config, modules, targets []string, warn, crit assess.Thresholds) ([]*Check, error) {
	for _, m := range modules {
		if _, ok := cfg.Modules[m]; !ok {
			return nil, &job.FieldError{Field: "only_module", Value: fmt.Sprintf("%q", m),
				Reason: fmt.Sprintf("%s has no such module (modules: %s)", cfg.Path, strings.Join(config.SortedKeys(cfg.Modules), ", "))}
		}
	}
	for _, t := range targets {
		if !slices.ContainsFunc(cfg.Targets, func(s config.Target) bool { return s.Target == t }) {
			return nil, &job.FieldError{Field: "only_target", Value: fmt.Sprintf("%q", t), Reason: fmt.Sprintf("%s lists no such target", cfg.Path)}
		}
	}
	var checks []*Check
	seen := map[[2]string]int{}
	for _, t := range cfg.Targets {
		if len(targets) > 0 && !slices.Contains(targets, t.Target) {
			continue
		}
		for _, name := range t.Modules {
			if len(modules) > 0 && !slices.Contains(modules, name) {
				continue
			}
			key := [2]string{t.Target, name}
			if line, dup := seen[key]; dup {
				return nil, &job.InputError{Msg: fmt.Sprintf("%s:%d: target %s with module %s is already listed at line %d: want each pair once", cfg.Path, t.Line, t.Target, name, line)}
			}
			seen[key] = t.Line
			m := cfg.Modules[name]
			j, err := m.Job(t.Target)
			if err != nil { // config.Load checked every pair
				return nil, &job.InputError{Msg: fmt.Sprintf("%s:%d: target %s, module %s: %s", cfg.Path, t.Line, t.Target, name, err.Error())}
			}
			checks = append(checks, &Check{Target: t.Target, Module: m, Job: j, Warn: Overlay(m.Warn, warn), Crit: Overlay(m.Crit, crit)})
		}
	}
	if len(checks) == 0 {
		if len(modules)+len(targets) > 0 {
			return nil, &job.InputError{Msg: fmt.Sprintf("check: no target of %s is left after the module and target filters", cfg.Path)}
		}
		return nil, &job.InputError{Msg: fmt.Sprintf("%s: no targets: want a targets: list with at least one entry", cfg.Path)}
	}
	return checks, nil
}
