// Package app holds Release Desk's use cases: the Desk (the running
// product: the event log, the read models kept live over it, the people,
// the runner) and what people do with it: open, deploy, test, approve,
// accept and complete releases, roll back, configure projects, trust
// hosts, manage users and tokens. It is the only package that knows users;
// it decides on the read models and appends events of the vocabulary
// (events/catalog), never the other way round.
//
// Use cases return domain errors (errors.go: invalid, unauthorized,
// forbidden, not found, conflict, locked, unavailable, upstream, a broken
// chain), never HTTP statuses or exit codes: the faces translate them.
//
//   - Desk, OpenDesk: the product over a data directory or an archive.
//   - Auth: people, passwords, logins, tokens; Can and Authorize: who may
//     do what (roles.go).
//   - DataDir: where a Release Desk keeps its event log and workspace.
//   - SetupDemo: the demo project `make run` starts with.
//
// Its faces live beside it: app/httpapi (the JSON API, the live stream,
// the embedded UI and the Go client), app/cli (the command line), app/window
// (the Wails window); app/projectconfig reads and checks a project's
// configuration.
package app
