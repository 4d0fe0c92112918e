package runner

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// takeRelaySockets duplicates into this process relayShell's fds 6 and 7
// (its stdin and stdout as rsync gave them) of process pid: the two
// sockets rsync talks to its remote shell on. rsync's data then goes straight from rsync to the session and
// back, with no copy by another process. The kernel allows it for a
// process of ours (same user, a descendant); where it does not (an older
// kernel, a ptrace policy, a seccomp filter), the caller falls back to
// relayShell's cat.
func takeRelaySockets(pid string) (src, dst *os.File, err error) {
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 1 {
		return nil, nil, fmt.Errorf("relay: bad pid %q", pid)
	}
	pidfd, err := unix.PidfdOpen(n, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	in, err := unix.PidfdGetfd(pidfd, 6, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("pidfd_getfd: %w", err)
	}
	out, err := unix.PidfdGetfd(pidfd, 7, 0)
	if err != nil {
		unix.Close(in)
		return nil, nil, fmt.Errorf("pidfd_getfd: %w", err)
	}
	return os.NewFile(uintptr(in), "rsync-out"), os.NewFile(uintptr(out), "rsync-in"), nil
}
