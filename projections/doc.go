// Package projections folds the event log into the read models the app
// serves: the release board, deployments and their per-host progress, the
// version timeline of each environment, hosts, users and the audit rows.
// Projections are pure: they take time from events, never from the clock, so
// a replay gives the same view. It imports only events.
package projections
