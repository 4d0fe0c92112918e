// Package app holds Release Desk's use cases and its two faces: the HTTP API
// (served by `releasedesk serve` and, in the desktop window, through Wails'
// AssetServer.Handler, so the UI has one transport) and the command line.
// It is the only package that knows users; it builds on events, projections
// and runner, never the other way round.
//
//   - Server / Handler: the JSON API under /api/v1 and the embedded frontend.
//   - DataDir: where a Release Desk keeps its event log and workspace.
//   - NewCLI: the `releasedesk` command tree.
//   - runWindow: the Wails window (desktop builds only).
package app
