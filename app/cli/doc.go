// Package cli is Release Desk's command line: `releasedesk` and its
// commands (serve, open, demo, user add, events, and the scripting verbs
// that ask a running server through the API client). It maps what fails
// to exit codes, which no other package knows.
//
//   - Main: runs the command line and returns the exit code.
//   - Exit codes: 0 success, 1 failure, 2 usage, 3 a broken chain, 4 no
//     window possible.
package cli
