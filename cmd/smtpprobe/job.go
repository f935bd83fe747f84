package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
)

// flagName spells a job's field as the command line does: the neutral
// key "connect_timeout" is --connect-timeout, "ipv4" is -4.
func flagName(field string) string {
	switch field {
	case "ipv4":
		return "-4"
	case "ipv6":
		return "-6"
	}
	return "--" + strings.ReplaceAll(field, "_", "-")
}

// usageOf turns the job package's input errors into usage errors in the
// command line's words; other errors pass through.
func usageOf(err error) error {
	var (
		fe *job.FieldError
		ie *job.InputError
		te *job.TargetError
	)
	switch {
	case errors.As(err, &fe):
		return usagef("%s", fe.Format(flagName))
	case errors.As(err, &te):
		return usagef("%s", te.Format(flagName))
	case errors.As(err, &ie):
		return usagef("%s", ie.Msg)
	case errors.Is(err, job.ErrNoResolver):
		return fmt.Errorf("%v (use --resolver host:port)", err)
	}
	return err
}
