//go:build unix && !linux

package runner

import "syscall"

// groupMemberAttr joins process group pgid. There is no Pdeathsig outside
// Linux: the group's reaper alone kills the command if this process dies.
func groupMemberAttr(pgid int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
}
