// Package runner executes queued deployments: it resolves a commit with
// go-git, exports and builds its tree, publishes it to hosts with rsync over
// SSH (goph for remote commands) into releases/<version>, switches `current`
// atomically, rolls back and prunes. Everything it does is reported as
// events; it never imports app.
package runner
