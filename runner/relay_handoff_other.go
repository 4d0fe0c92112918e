//go:build !linux

package runner

import "os"

// takeRelaySockets is Linux's pidfd_getfd; elsewhere rsync's data goes
// through relayShell's cat.
func takeRelaySockets(string) (src, dst *os.File, err error) { return nil, nil, errNoHandoff }
