// Package runner executes deployments: it resolves a commit with go-git,
// exports and builds its tree, publishes it to hosts over SSH (goph; rsync,
// or a tar stream for a change, on the same connection) into
// releases/<version>, switches `current` atomically, rolls back and
// prunes. Everything it does is reported as events; it never imports app.
//
//   - Submit queues a deployment (deploy.requested); Runner claims queued
//     deployments (deploy.started at expected version 1) and runs them, one
//     at a time per environment (the lock/<project>/<env> stream).
//   - Runner: Start, Run, Wait, Cancel, Resume, Recover, Drift, BreakLock,
//     TrustHostKey.
//   - The events it writes and the configuration a deployment carries
//     (catalog.Project) are the vocabulary's, in events/catalog.
//   - Layout builds every command that runs on a host as argv; Quote is the
//     one function that quotes argv for a shell.
//   - Executor runs argv on a target: SSHExecutor (one connection per host,
//     open while the host is at work and kept idle a minute after it for
//     the next deployment, connpool.go; strict host keys via Dialer) or
//     LocalExecutor; its RunEnv hands a command secrets out of band, never
//     in an argv.
//   - Mirror, Workspace, Manifest: the git side on this machine.
//   - rules.go: the rules of a project configuration that both the app's
//     validation (app/projectconfig) and Submit's check of a request
//     apply, one function each (CheckStrategy, CheckRepo, HostKey, ...).
package runner

// A rollback is a deployment of Kind rollback whose Version is a release
// the environment ran before and Commit its commit. It runs through the
// same pipeline as a deploy (locks, batches, failure policy, events), with
// two differences, both in stageHost:
//
//   - a host that still holds releases/<version> with a REVISION naming
//     the commit is just switched: no export, no transfer, no pre_release
//     hook, no health check (the release passed them when it was made), so
//     a rollback costs one session per host: its prepare and its switch,
//     gated in the middle (cutover.go);
//   - a host that pruned it gets it staged again from its commit first
//     (the export is made only then, on the first host that needs it).
//
// post_release runs after the switch, as for a deploy: the app must load
// the old code. Host events carry Previous, so the versions timeline shows
// what each host left.
