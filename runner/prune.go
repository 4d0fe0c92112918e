package runner

import (
	"context"
	"slices"
	"sort"

	"releasedesk/events/catalog"
)

// prune keeps the project's keep_releases releases on a host just
// switched: always the current one and the one it replaced (so a revert
// or a one-step rollback never lacks its target), then the newest others.
// A failed prune is
// reported as a failed step, not as the host's failure: the release is
// live and good; the next deployment prunes again.
// releases are those the host holds (ListReleases, read with the switch).
func (d *deployment) prune(ctx context.Context, hr *hostRun, releases []string) {
	keep := d.p.KeepReleases
	if keep <= 0 {
		keep = catalog.DefaultKeepReleases
	}
	remove := pruneSet(releases, keep, d.req.Version, hr.previous)
	if len(remove) == 0 {
		return
	}
	argv, err := hr.layout.Remove(remove...)
	if _, _, err := d.command(ctx, hr, "prune", argv, err); err != nil {
		return
	}
	_ = d.emit(catalog.TypeReleasePruned, catalog.Pruned{Deployment: d.id, Project: d.p.ID, Environment: d.env.Name,
		Host: hr.host.Addr, Versions: remove})
}

// pruneSet returns the versions to remove, oldest first: a host keeps
// keep releases, the protected ones (current, the one it replaced) counted
// first, then the newest others (ids sort by time).
func pruneSet(versions []string, keep int, protect ...string) []string {
	vs := slices.Clone(versions)
	sort.Strings(vs)
	kept := map[string]bool{}
	for _, p := range protect {
		if p != "" && slices.Contains(vs, p) {
			kept[p] = true
		}
	}
	for i := len(vs) - 1; i >= 0 && len(kept) < keep; i-- {
		kept[vs[i]] = true
	}
	var out []string
	for _, v := range vs {
		if !kept[v] {
			out = append(out, v)
		}
	}
	return out
}
