package runner

import (
	"context"
	"fmt"

	"releasedesk/events/catalog"
)

// A rollback is a deployment of Kind rollback whose Version is a release
// the environment ran before and Commit its commit. It runs through the
// same pipeline as a deploy (locks, batches, failure policy, events), with
// two differences, both in stageHost:
//
//   - a host that still holds releases/<version> with a REVISION naming
//     the commit is just switched: no export, no transfer, no pre_release
//     hook, no health check (the release passed them when it was made), so
//     a rollback costs a handful of remote commands per host;
//   - a host that pruned it gets it staged again from its commit first
//     (the export is made only then, on the first host that needs it).
//
// post_release runs after the switch, as for a deploy: the app must load
// the old code. Host events carry Previous, so the versions timeline shows
// what each host left.

// RollbackRequest builds the request of a rollback of env to version,
// looking up the version's commit in the log. The app may as well build
// the Request itself.
func (r *Runner) RollbackRequest(ctx context.Context, p catalog.Project, env, version, id, reason string) (catalog.Request, error) {
	if err := ValidateVersion(version); err != nil {
		return catalog.Request{}, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	if err := r.catchUp(ctx); err != nil {
		return catalog.Request{}, err
	}
	commit, ok := r.st.commitOf(p.ID, version)
	if !ok {
		return catalog.Request{}, fmt.Errorf("%w: version %s of %s was never deployed", ErrInvalidRequest, version, p.ID)
	}
	return catalog.Request{Deployment: id, Kind: catalog.KindRollback, Project: p, Environment: env,
		Commit: commit, Version: version, Reason: reason}, nil
}
