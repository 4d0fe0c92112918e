// Package e2e holds Release Desk's whole-app tests: they build the
// releasedesk binary once (sharedBinary) and drive real processes over
// its HTTP API, with real sshd hosts (runner/sshtest), real git
// repositories and real Badger stores on disk.
//
//   - the process harness (proc_harness_test.go): a serve process, users,
//     projects over sshd hosts, a client per user;
//   - the upgrade test: a data directory written by an older build opens
//     with this one and gives the same answers (testdata/upgrade);
//   - the chaos tests (chaos_*_test.go): crashes, host and disk faults,
//     damaged stores, hostile input; `make chaos` runs them at full counts
//     and writes docs/RELIABILITY.md;
//   - the fleet tests and benchmark (fleet_*_test.go): 100 hosts;
//     `make bench` writes docs/BENCHMARKS.md.
//
// The package has no code of its own beyond this file: everything else is
// a test.
package e2e
