//go:build linux

package sshtest

import (
	"os"
	"strconv"
	"strings"
)

// Established counts the TCP connections open to the cluster's hosts now:
// the sockets in state ESTABLISHED in /proc/net/tcp and tcp6 whose local
// port is a host's sshd port (the servers' ends, so a client's socket is
// never counted twice). A host's command connection and an OpenSSH master
// each count as one.
func (c *Cluster) Established() (int, error) {
	ports := make(map[int64]bool, len(c.servers))
	for _, s := range c.servers {
		ports[int64(s.port)] = true
	}
	n := 0
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			if file == "/proc/net/tcp6" {
				continue // no IPv6 here
			}
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st ...; st 01 is ESTABLISHED.
			fs := strings.Fields(line)
			if len(fs) < 4 || fs[3] != "01" {
				continue
			}
			i := strings.LastIndexByte(fs[1], ':')
			port, err := strconv.ParseInt(fs[1][i+1:], 16, 32)
			if err == nil && ports[port] {
				n++
			}
		}
	}
	return n, nil
}
