// Package catalog is Release Desk's event vocabulary: every event type
// name, its schema, its payload struct and the streams it goes to, in one
// place that the producers (runner, app) and the consumers (projections,
// exports) all import. The store in package events stays generic and
// imports nothing of ours; catalog gives its events their meaning.
//
//   - catalog.go: the list of every type (Spec: type, schema, payload,
//     streams), NewEvent (the one constructor, which refuses a payload of
//     the wrong type) and the schema steps (Upcasters), kept beside the
//     types they lift.
//   - workflow.go: what people decide (users, tokens, projects, releases,
//     rollbacks, versions marked bad) and the project roles.
//   - deploy.go: what the runner reports (deployments, steps and their
//     output, hosts, locks, host keys, pruning, drift).
//   - project.go: a project's configuration (Project, Environment, Host,
//     hooks, health check, hook environment, workflow rules), carried by
//     project.configured and by every deploy.requested.
//   - streams.go: stream prefixes and names.
//
// Stored events are never rewritten: a new shape of a type is a new
// schema with a step in upcasts that lifts the old one on read.
// e2e's TestUpgradeFixture keeps a log written before this package
// existed readable with the same answers.
package catalog
