//go:build unix

package runner

import (
	"os"
	"os/exec"
	"syscall"
)

// procGroup is the process group a LocalExecutor command runs in, led by
// a reaper (see LocalExecutor) that kills the group if this process dies.
type procGroup struct {
	reaper *exec.Cmd
	alive  *os.File // the reaper's stdin: closing it ends the group
	pgid   int
}

// newProcGroup starts the leader of a new process group that kills the
// group when alive, the write end of its stdin, is closed: by end, or by
// the kernel when this process dies.
func newProcGroup() (*procGroup, error) {
	r, w, err := os.Pipe() // close-on-exec: no other child inherits w
	if err != nil {
		return nil, err
	}
	defer r.Close()
	reaper := exec.Command("sh", "-c", reaperScript, "releasedesk-reaper")
	reaper.Stdin = r
	reaper.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := reaper.Start(); err != nil {
		w.Close()
		return nil, err
	}
	return &procGroup{reaper: reaper, alive: w, pgid: reaper.Process.Pid}, nil
}

// prepare puts cmd, before it starts, into the group.
func (g *procGroup) prepare(cmd *exec.Cmd) { cmd.SysProcAttr = groupMemberAttr(g.pgid) }

// started has nothing to do: the kernel put the command in the group.
func (g *procGroup) started(*exec.Cmd) error { return nil }

// kill ends every process in the group.
func (g *procGroup) kill() { _ = syscall.Kill(-g.pgid, syscall.SIGKILL) }

// end lets the reaper go, without killing the group (what the command left
// running is left, as it would be without a reaper), then its pipe.
func (g *procGroup) end() {
	_ = g.reaper.Process.Kill()
	_ = g.reaper.Wait()
	g.alive.Close()
}
