package probe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// DefaultMTUBudget bounds a whole mtu run (both directions, the black-hole
// location included) when MTUOptions.Budget is 0: under heavy loss every
// probe session costs SYN and reply retransmissions, and a run must end
// with an answer (inconclusive, with the loss measured) rather than go on
// for minutes (issue 17).
const DefaultMTUBudget = 25 * time.Second

// firstShare is the part of the budget the first half (server to client)
// may use when the other half follows.
const firstShare = 0.4

// budgetCtx bounds the whole run by opt.Budget (DefaultMTUBudget when 0),
// and returns the deadline of the first half when both directions run
// (the end of the budget otherwise).
func (opt MTUOptions) budgetCtx(ctx context.Context, start time.Time, dir string) (context.Context, context.CancelFunc, time.Time) {
	b := opt.Budget
	if b <= 0 {
		b = DefaultMTUBudget
	}
	end := start.Add(b)
	first := end
	if dir == DirectionBoth {
		first = start.Add(time.Duration(float64(b) * firstShare))
	}
	ctx, cancel := context.WithDeadlineCause(ctx, end, errBudget)
	return ctx, cancel, first
}

// errBudget is the cause of a context ended by the run's budget (rather
// than by the caller).
var errBudget = errors.New("the mtu run's budget ran out")

// callerDone reports whether ctx ended for a reason other than the budget.
func callerDone(ctx context.Context) bool {
	return ctx.Err() != nil && !errors.Is(context.Cause(ctx), errBudget)
}

// lossTally keeps what a direction's probe sessions showed about loss:
// whether the server ever let a probe through to its write (it talks to
// us), and the sessions that died before their probe proved anything.
type lossTally struct {
	mu      sync.Mutex
	reached bool    // a probe session reached its probe
	blind   int     // sessions (attempts) that proved nothing
	first   *Result // the first of them
}

// noEvidence is a probe session that died before its probe proved
// anything; it wraps mtu.ErrNoEvidence so that the search plans the size
// again instead of failing the run.
type noEvidence struct{ r Result }

func (e *noEvidence) Error() string { return "probe session: " + e.r.Error }

func (e *noEvidence) Unwrap() error { return mtu.ErrNoEvidence }

// lossLike reports whether a failed probe session died of what random loss
// does to a session (mtuRetry's list), or of the run's budget ending.
func lossLike(ctx context.Context, res Result) bool {
	if ctx.Err() != nil {
		return true
	}
	switch res.Outcome {
	case ReplyTimeout, ServerTimeout, Reset, Closed, ConnectTimeout:
		return true
	}
	rp := res.Reply
	return rp != nil && rp.Code == 421 && rp.Enhanced == "4.4.2"
}

// sent records a finished probe session (after mtuRetry) and returns the
// error for the search: nil when the session reached its probe; a
// noEvidence when it died of loss, or of anything once the server has let
// other probes through (it talks to us: the session's death is the path,
// not a refusal); a *probeFailed otherwise (the server refuses us: its
// answer is the result).
func (lt *lossTally) sent(ctx context.Context, pr MTUProbe, res Result) error {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if res.Outcome == OK {
		lt.reached = true
		return nil
	}
	if res.local == nil && (lt.reached || lossLike(ctx, res)) {
		lt.blind += max(pr.Attempts, 1)
		if lt.first == nil {
			lt.first = &res
		}
		return &noEvidence{res}
	}
	return &probeFailed{res}
}

// undecided reports whether a search that ended with err (ctx carries the
// run's budget) is inconclusive rather than a failure: the budget ran out,
// or rounds proved nothing or contradicted each other while the server did
// let probes through. When rounds proved nothing and no probe session ever
// got as far as its probe, the first session's own failure is returned as
// a *probeFailed instead.
func (lt *lossTally) undecided(ctx context.Context, err error) (bool, error) {
	if err == nil || callerDone(ctx) {
		return false, err
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	var (
		be *mtu.BlindError
		ie *mtu.InconsistentError
	)
	if !errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &be) && !errors.As(err, &ie) {
		return false, err // a probe session's own failure, or misuse
	}
	if !lt.reached && lt.first != nil && !errors.Is(err, context.DeadlineExceeded) {
		// Rounds in a row in which no session ever got as far as its
		// probe: the sessions' own failure is the answer.
		return false, &probeFailed{*lt.first}
	}
	return true, err
}

// inconclusiveFinding says why a direction has no verdict, what the loss
// was, what was proven, and how to retry.
func inconclusiveFinding(t Target, r *Result, dir string, took time.Duration, b mtu.Bracket, blind int, lossPct *float64, err error) Finding {
	why := fmt.Sprintf("no verdict within %s", units.Duration(took.Round(100*time.Millisecond)))
	var ie *mtu.InconsistentError
	if errors.As(err, &ie) {
		why = fmt.Sprintf("%d-byte packets were lost again and again while %d-byte ones passed", ie.Smaller, ie.Larger)
	}
	loss := fmt.Sprintf("%d of %d probe sessions died of loss before their probe", blind, blind+b.Probes)
	if lossPct != nil {
		loss += fmt.Sprintf(", and %.1f%% of the passing probes' segments were retransmitted", *lossPct)
	}
	proven := "no size was carried"
	if ok := b.LargestCarried(); ok > 0 {
		proven = fmt.Sprintf("packets of %d bytes are carried", ok)
	}
	return Finding{Severity: SevWarning, Code: dnscheck.CodeMTUInconclusive, Message: fmt.Sprintf(
		"%s: %s: %s (%s): random loss on the path is too heavy to tell a black hole from loss; %s. Retry when the path is quieter (a loss of a few %% is fine), or from another vantage point",
		who(t, r.Address), dir, why, loss, proven)}
}
