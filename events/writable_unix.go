//go:build unix

package events

import "golang.org/x/sys/unix"

// writeAccess asks the kernel whether this process may write path, without
// writing: permissions, ACLs and a read-only mount all count.
func writeAccess(path string) error { return unix.Access(path, unix.W_OK) }
