//go:build linux

// Package sshtest starts real OpenSSH servers (sshd) on free loopback
// ports for tests: each host with its own ed25519 host key, its own target
// path under /dev/shm and its own log, one client key authorized on all of
// them and a known_hosts file that trusts them all. Faults are one call
// away: Kill (the host dies mid-transfer), Freeze (the host hangs),
// RotateHostKey (a changed key).
//
//   - Cluster: the running hosts, their key files and fault controls;
//     Established counts the connections open to them.
//   - Host: an address and a target path, the same fields as runner.Host
//     (convert with runner.Host(h)).
//
// It does not import runner, so tests inside package runner can use it.
//
// Linux only (the build constraint): it reads /proc and kills with
// Pdeathsig and process groups, and the tests that use it run on Linux.
package sshtest
