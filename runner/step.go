package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"releasedesk/events/catalog"

	"github.com/sirupsen/logrus"
)

// A step is one thing a deployment does (connect, lock, stage, a hook,
// switch, ...) on a host or on this machine. Each is reported as
// step.started (with its command line, redacted), step.output (coalesced,
// capped, redacted) and step.finished (exit code, duration, error).

// maxCaptured bounds the output a step keeps in memory for the runner to
// read (a current version, a lock's holder, rsync's statistics).
const maxCaptured = 256 << 10

// step is one running step.
type step struct {
	d     *deployment
	id    string
	name  string
	host  string
	start time.Time
	sink  *outputSink

	mu       sync.Mutex
	captured []byte // the first maxCaptured bytes, unredacted, never recorded
}

// stepID makes step ids unique within a deployment, also across resumes:
// "web1:stage", then "web1:stage#2".
func (d *deployment) stepID(host, name string) string {
	base := name
	if host != "" {
		base = host + ":" + name
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stepSeen[base]++
	if n := d.stepSeen[base]; n > 1 {
		return fmt.Sprintf("%s#%d", base, n)
	}
	return base
}

// beginStep appends step.started and returns the step, whose Write feeds
// step.output.
func (d *deployment) beginStep(host, name string, argv []string) *step {
	s := &step{d: d, id: d.stepID(host, name), name: name, host: host, start: time.Now()}
	d.emit(catalog.TypeStepStarted, catalog.StepStarted{Deployment: d.id, Step: s.id, Name: name, Host: host, Command: d.red.Strings(argv)})
	s.sink = newOutputSink(d.red, d.r.cfg.OutputInterval, d.r.cfg.OutputChunk, d.r.cfg.OutputCap,
		func(text string, truncated bool) error {
			return d.emit(catalog.TypeStepOutput, catalog.StepOutput{Deployment: d.id, Step: s.id, Host: host, Text: text, Truncated: truncated})
		})
	return s
}

// Write implements io.Writer for the command's output.
func (s *step) Write(p []byte) (int, error) {
	s.mu.Lock()
	if room := maxCaptured - len(s.captured); room > 0 {
		s.captured = append(s.captured, p[:min(room, len(p))]...)
	}
	s.mu.Unlock()
	return s.sink.Write(p)
}

// Output is what the command printed (unredacted, at most maxCaptured).
func (s *step) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.captured)
}

// note writes a line of the runner's own into the step's output.
func (s *step) note(format string, args ...any) {
	fmt.Fprintf(s, format+"\n", args...)
}

// finish flushes the output and appends step.finished. A non-zero exit
// without an error gets one naming the status and the output's last line.
// Exit codes listed in ok are answers, not failures (a lock held, a
// release missing).
func (s *step) finish(exit int, err error, ok ...int) error {
	if oerr := s.sink.Close(); oerr != nil {
		s.d.logger.WithField("step", s.id).WithError(oerr).Warn("step output not recorded")
	}
	if err == nil && exit != 0 && !slices.Contains(ok, exit) {
		err = &stepError{Step: s.name, Exit: exit, Last: lastLine(s.Output())}
	}
	fin := catalog.StepFinished{Deployment: s.d.id, Step: s.id, Host: s.host, ExitCode: exit,
		DurationMS: time.Since(s.start).Milliseconds()}
	if err != nil {
		fin.Error = s.d.red.String(err.Error())
	}
	s.d.emit(catalog.TypeStepFinished, fin)
	if err != nil {
		s.d.logger.WithFields(logrus.Fields{"step": s.id, "exit": exit}).WithError(errors.New(fin.Error)).Info("step failed")
	}
	return err
}

// stepError is a command that ran and exited non-zero.
type stepError struct {
	Step string
	Exit int
	Last string
}

func (e *stepError) Error() string {
	if e.Last == "" {
		return fmt.Sprintf("%s: exit status %d", e.Step, e.Exit)
	}
	return fmt.Sprintf("%s: exit status %d: %s", e.Step, e.Exit, e.Last)
}

// run runs argv on ex as one step, bounded by timeout when it is positive.
// It returns the step (for its output) and an error for a non-zero exit
// (other than those in ok) as well as for a command that could not run.
func (d *deployment) run(ctx context.Context, host, name string, ex Executor, argv []string, timeout time.Duration, ok ...int) (*step, int, error) {
	return d.runEnv(ctx, host, name, ex, argv, nil, timeout, ok...)
}

// runEnv is run with env handed to the command out of band (RunEnv).
func (d *deployment) runEnv(ctx context.Context, host, name string, ex Executor, argv, env []string, timeout time.Duration, ok ...int) (*step, int, error) {
	s := d.beginStep(host, name, argv)
	exit, err := d.runIn(ctx, s, ex, argv, env, nil, timeout)
	return s, exit, s.finish(exit, err, ok...)
}

// command runs a layout command on a host as one step, bounded by
// StepTimeout. buildErr is the builder's refusal: the step is then
// recorded as failed without running anything.
func (d *deployment) command(ctx context.Context, hr *hostRun, name string, argv []string, buildErr error, ok ...int) (*step, int, error) {
	return d.commandEnv(ctx, hr, name, argv, nil, buildErr, ok...)
}

// commandEnv is command with env handed to it out of band (RunEnv): the
// secrets of hooks and checks.
func (d *deployment) commandEnv(ctx context.Context, hr *hostRun, name string, argv, env []string, buildErr error, ok ...int) (*step, int, error) {
	if buildErr != nil {
		s := d.beginStep(hr.host.Addr, name, nil)
		return s, -1, s.finish(-1, buildErr)
	}
	return d.runEnv(ctx, hr.host.Addr, name, hr.ex, argv, env, d.r.cfg.StepTimeout, ok...)
}

// runIn runs one command inside an already begun step, with env out of
// band (RunEnv) or, when stdin is not nil, stdin streamed to it (RunStdin;
// env must then be empty).
func (d *deployment) runIn(ctx context.Context, s *step, ex Executor, argv, env []string, stdin io.Reader, timeout time.Duration) (int, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var exit int
	var err error
	if stdin != nil {
		if len(env) > 0 {
			return -1, fmt.Errorf("%s: %w: variables and a stdin stream together", s.name, ErrBadArg)
		}
		exit, err = ex.RunStdin(ctx, argv, stdin, s)
	} else {
		exit, err = ex.RunEnv(ctx, argv, env, s)
	}
	if err != nil && errors.Is(err, context.DeadlineExceeded) && context.Cause(ctx) == context.DeadlineExceeded {
		err = fmt.Errorf("%s: no answer within %s: %w", s.name, timeout, err)
	}
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errCancelRequested) {
			err = fmt.Errorf("%s: %w", s.name, errCancelRequested)
		}
	}
	return exit, err
}
