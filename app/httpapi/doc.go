// Package httpapi is Release Desk's HTTP face: the JSON API under /api/v1,
// the live stream (Server-Sent Events), the embedded UI, and the one Go
// client of that API. The browser, the desktop window (through Wails'
// AssetServer.Handler) and scripts all reach the desk through it.
//
//   - Server, NewServer: one http.Handler for the API and the UI; routes
//     in api_routes.go, each a thin adapter over an app use case.
//   - The mapping of the use cases' error kinds to statuses and the one
//     error shape {"error": {"code", "message", ...}} (api_errors.go).
//   - Request and response types (LoginRequest, ReleaseResponse,
//     HealthResponse, StreamMessage, ...): the wire format. The frontend's
//     TypeScript types are generated from them and from the app's and the
//     read models' types (tygo.yaml, `make wire`); TestWireTypes fails
//     when they are stale.
//   - Client: the API's client; the command line and every test use it.
//   - ListenAndServe: loopback or TLS; FollowChanges: the live stream for
//     a consumer in this process (the window).
//
// app/httpapi/apitest drives it in tests.
package httpapi
