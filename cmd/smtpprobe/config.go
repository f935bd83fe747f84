package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
)

// loadConfig reads --config; every problem is a *usageError.
func loadConfig(path string) (*config.Config, error) {
	c, err := config.Load(path)
	return c, configUsage(err)
}

// configUsage turns the config package's errors into usage errors: a
// problem in the file as the file names it, an unreadable file as
// --config's.
func configUsage(err error) error {
	var ce *config.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return usagef("%s", ce.Error())
	}
	return usagef("--config: %v", err)
}

// validateSummary prints the one line of a --validate that found no
// problem.
func validateSummary(w io.Writer, c *config.Config, serve bool) (int, error) {
	_, err := fmt.Fprintln(w, c.Summary(serve))
	return 0, err
}

// usageText returns the message of an error in the command line's
// words, without decoration.
func usageText(err error) string {
	var ue *usageError
	if errors.As(usageOf(err), &ue) {
		return ue.Msg
	}
	return err.Error()
}

// helpConfig prints `smtpprobe help config`.
func helpConfig(w io.Writer) error { return config.WriteHelp(w) }
