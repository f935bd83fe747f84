package main

import (
	"errors"

	"github.com/smtpprobe/smtpprobe/probe/config"
)

// loadConfig reads --config; every problem is a *usageError.
func loadConfig(path string) (*config.Config, error) {
	c, err := config.Load(path)
	return c, configUsage(err)
}

// checkServe is config.CheckServe as a *usageError.
func checkServe(c *config.Config) error { return configUsage(c.CheckServe()) }

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

// usageText returns the message of an error in the command line's
// words, without decoration.
func usageText(err error) string {
	var ue *usageError
	if errors.As(usageOf(err), &ue) {
		return ue.msg
	}
	return err.Error()
}
