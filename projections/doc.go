// Package projections folds the event log into the read models the app
// serves: the release board, deployments and their per-host progress, the
// version timeline of each environment, hosts, users and the audit rows.
// Projections are pure: they take time from events, never from the clock, so
// a replay gives the same view. It imports only events and the vocabulary
// (events/catalog); payloads are read in one pass over their JSON
// (payload.go), which TestVocabularyFolded holds to the vocabulary.
//
//   - Set bundles every model: Build replays a log, CatchUp applies what
//     came since, Follow keeps it live through Subscribe, ChangeOf tells a
//     live feed what an applied envelope touched (Change), WaitFor lets a
//     writer wait until its own append is visible.
//   - Projects (configuration and history), Users (roles, logins, tokens),
//     Releases (the board, Board queries, each release's Timeline and the
//     state machine of DESIGN.md section 3), Deployments (plan, hosts,
//     steps with their output), Versions (per environment: what went live,
//     current, kept on the hosts, marked bad), Hosts (what each runs, key
//     trust), Audit (an index of every event, rows rendered from the log)
//     and Queue (requests waiting for a runner, environment locks). Each is
//     a Projection: Apply idempotent by position, copies out.
//   - RegisterAuditFormatters gives every event type a one-line summary for
//     events.ExportCSV; Audit.Formatters adds what only the fold knows.
//   - SaveCheckpoint / LoadCheckpoint / Start: the whole state with its
//     position and hash under ProjectionVersion, so start-up need not replay
//     the log; a checkpoint of another version or another log is discarded.
//   - states.go: the states the models give releases, deployments and
//     hosts.
package projections
