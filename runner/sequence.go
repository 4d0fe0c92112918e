package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// A sequence runs several layout commands on a host in one SSH session:
// each session costs a fork of sshd, a login shell and the watcher script
// (about 5 ms of CPU here), and a deployment to many hosts at once is
// bound by CPU, so the fixed commands of a phase (lock, prepare, read
// current, look for the release) travel together. Each command still runs
// as its own argv (exec'ed in a subshell, never re-parsed by a shell), and
// the sequence stops at the first that fails, like `&&`.
//
// After each command the script prints a marker line holding a random
// nonce, the command's name and its exit status; ParseSequence splits the
// output back into each command's output and status. The nonce is drawn
// for each run, so nothing written on a host earlier (a REVISION, a lock's
// info) can forge a marker.

// SeqPart is one command of a sequence.
type SeqPart struct {
	Name string   // what the marker calls it: a constant word (seqNameRe)
	Argv []string // a layout command
}

// SeqResult is what one command of a sequence did.
type SeqResult struct {
	Ran    bool   // a marker reported it: Exit is its status
	Exit   int    // its exit status
	Output string // what it printed (stdout and stderr)
}

// seqScript runs the parts given as arguments: the nonce ($1), then for
// each part its name, its argument count and its argv. A part runs in a
// subshell that keeps only its own argv and execs it (a `sh -c SCRIPT`
// part runs its script in the subshell, without a new sh), its stdin
// /dev/null. Exit: the status of the first part that failed, else 0.
//
// A part named GatePart with no argv is the gate: it prints
// "<nonce> gate ready" and reads its stdin: "go", then the variables of
// an envBlock (exported for the parts after it), go on; anything else,
// EOF included, ends the sequence there with status 1. Past the gate the
// rest of stdin is watched as RunEnv's is: when it closes (the run's
// context ended, the connection dropped) the whole process group is
// killed.
const seqScript = `m="$1"
shift
_rd_w=
end() {
	[ -z "$_rd_w" ] || kill "$_rd_w" 2>/dev/null
	exit "$1"
}
while [ $# -gt 0 ]; do
	name="$1"
	n="$2"
	shift 2
	if [ "$name" = ` + GatePart + ` ] && [ "$n" = 0 ]; then
		printf '\n%s gate ready\n' "$m"
		s=1
		if IFS= read -r _rd_l && [ "$_rd_l" = go ]; then
			` + envBlockScript + `
			if [ -n "$_rd_ok" ]; then
				s=0
				exec 3<&0
				(read -r _ <&3; kill -KILL 0) &
				_rd_w=$!
				exec 3<&-
			fi
		fi
		printf '\n%s %s exit %d\n' "$m" "$name" "$s"
		[ "$s" -eq 0 ] || end "$s"
		continue
	fi
	(
		k=0
		for a do
			[ "$k" -eq 0 ] && set --
			k=$((k + 1))
			[ "$k" -le "$n" ] && set -- "$@" "$a"
		done
		if [ "$#" -ge 4 ] && [ "$1" = sh ] && [ "$2" = -c ]; then
			# sh -c SCRIPT NAME ARGS...: the script runs in this
			# subshell with ARGS as its parameters, as sh would run
			# it, without a new sh.
			_rd_s="$3"
			shift 4
			unset m name n s k a _rd_w
			eval "$_rd_s"
			exit
		fi
		exec "$@"
	) </dev/null
	s=$?
	printf '\n%s %s exit %d\n' "$m" "$name" "$s"
	[ "$s" -eq 0 ] || end "$s"
	shift "$n"
done
end 0`

// GatePart names a sequence's gate (seqScript): the parts after it run
// only once the runner says go on the session's stdin.
const GatePart = "gate"

var seqNameRe = regexp.MustCompile(`^[a-z][a-z._]{0,31}$`)

// newSeqNonce is a fresh marker nonce.
func newSeqNonce() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "rd-" + hex.EncodeToString(b)
}

// seqNonceRe is what a nonce must look like: it is printed verbatim.
var seqNonceRe = regexp.MustCompile(`^rd-[0-9a-f]{24}$`)

// Sequence builds the argv that runs parts in order in one session (see
// above), stopping at the first whose status is not 0. nonce comes from
// newSeqNonce; read the output with ParseSequence and the same nonce.
func Sequence(nonce string, parts ...SeqPart) ([]string, error) {
	if !seqNonceRe.MatchString(nonce) {
		return nil, fmt.Errorf("%w: sequence nonce %q", ErrBadArg, nonce)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: empty sequence", ErrBadArg)
	}
	args := []string{nonce}
	gates := 0
	for _, p := range parts {
		if !seqNameRe.MatchString(p.Name) {
			return nil, fmt.Errorf("%w: sequence part name %q", ErrBadArg, p.Name)
		}
		if p.Name == GatePart {
			if gates++; gates > 1 || len(p.Argv) > 0 {
				return nil, fmt.Errorf("%w: a sequence has at most one gate, with no command", ErrBadArg)
			}
			args = append(args, p.Name, "0")
			continue
		}
		if len(p.Argv) == 0 || p.Argv[0] == "" || strings.HasPrefix(p.Argv[0], "-") {
			return nil, fmt.Errorf("%w: sequence part %s: no command", ErrBadArg, p.Name)
		}
		args = append(args, p.Name, strconv.Itoa(len(p.Argv)))
		args = append(args, p.Argv...)
	}
	return shell(seqScript, args...), nil
}

// ParseSequence splits the output of a Sequence of n parts run with nonce:
// one result per part, in order. A part after the last marker did not
// report (the sequence stopped before it, or the session ended while it
// ran): Ran is false and Output holds what it printed, if anything.
func ParseSequence(nonce, out string, n int) []SeqResult {
	res := make([]SeqResult, n)
	marker := "\n" + nonce + " "
	for i := range n {
		j := strings.Index(out, marker)
		if j < 0 {
			res[i].Output = out
			return res
		}
		line, rest, _ := strings.Cut(out[j+len(marker):], "\n")
		res[i].Output = out[:j]
		out = rest
		// line is "<name> exit <status>"
		f := strings.Fields(line)
		if len(f) != 3 || f[1] != "exit" {
			return res
		}
		code, err := strconv.Atoi(f[2])
		if err != nil {
			return res
		}
		res[i].Ran, res[i].Exit = true, code
	}
	return res
}

// seqCmd is one command of a sequence on a host, as a deployment runs it.
type seqCmd struct {
	name     string   // the part's name: the step a failure is reported as
	argv     []string // the layout command
	buildErr error    // the builder's refusal: nothing runs
	ok       []int    // exit codes that are answers, not failures
}

// sequence runs cmds on the host in one session, recorded as one step
// named name (step.started holds the whole argv, step.output every part's
// output with the markers). It returns each part's result and, on a
// failure, the failing part's name with the error. A part's status listed
// in its ok codes is an answer; the sequence still stops there.
func (d *deployment) sequence(hr *hostRun, name string, cmds []seqCmd) ([]SeqResult, *step, string, error) {
	return d.sequenceCtx(d.ctx, hr, name, cmds)
}

// sequenceCtx is sequence on ctx: the clean-up's own context, when the
// deployment's may have ended (a cancel).
func (d *deployment) sequenceCtx(ctx context.Context, hr *hostRun, name string, cmds []seqCmd) ([]SeqResult, *step, string, error) {
	return d.sequenceEnv(ctx, hr, name, cmds, nil)
}

// sequenceEnv is sequenceCtx with env handed to every part out of band
// (RunEnv): the secrets of a hook that travels in the sequence.
func (d *deployment) sequenceEnv(ctx context.Context, hr *hostRun, name string, cmds []seqCmd, env []string) ([]SeqResult, *step, string, error) {
	nonce := newSeqNonce()
	parts := make([]SeqPart, len(cmds))
	for i, c := range cmds {
		if c.buildErr != nil {
			s := d.beginStep(hr.host.Addr, name, nil)
			return nil, s, c.name, s.finish(-1, fmt.Errorf("%s: %w", c.name, c.buildErr))
		}
		parts[i] = SeqPart{Name: c.name, Argv: c.argv}
	}
	argv, err := Sequence(nonce, parts...)
	if err != nil {
		s := d.beginStep(hr.host.Addr, name, nil)
		return nil, s, cmds[0].name, s.finish(-1, err)
	}
	s := d.beginStep(hr.host.Addr, name, argv)
	exit, err := d.runIn(ctx, s, hr.ex, argv, env, nil, d.r.cfg.StepTimeout)
	res := ParseSequence(nonce, s.Output(), len(cmds))
	failed, err := seqOutcome(cmds, res, exit, err)
	return res, s, failed, s.finish(exit, err, exit)
}

// seqOutcome reads a sequence's results: the name of the part that failed
// ("" when none did) and the error to record, given the session's exit
// status and error.
func seqOutcome(cmds []seqCmd, res []SeqResult, exit int, err error) (string, error) {
	failed := ""
	for i, r := range res {
		if !r.Ran {
			// It never reported: cut short (err says why), or the
			// sequence ended without a word from it.
			failed = cmds[i].name
			if err == nil {
				err = &stepError{Step: cmds[i].name, Exit: exit, Last: lastLine(r.Output)}
				if exit == 0 {
					err = fmt.Errorf("%s: no exit status reported", cmds[i].name)
				}
			}
			break
		}
		if r.Exit != 0 {
			if !slices.Contains(cmds[i].ok, r.Exit) {
				failed = cmds[i].name
				if err == nil {
					err = &stepError{Step: cmds[i].name, Exit: r.Exit, Last: lastLine(r.Output)}
				}
			}
			break
		}
	}
	if failed == "" && err != nil {
		failed = cmds[len(cmds)-1].name
	}
	return failed, err
}
