package runner

import "syscall"

// groupMemberAttr joins process group pgid, and asks the kernel to kill
// the command when the thread that started it exits (Pdeathsig).
func groupMemberAttr(pgid int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pgid: pgid, Pdeathsig: syscall.SIGKILL}
}
