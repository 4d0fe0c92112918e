package runner

import (
	"slices"
	"sort"

	"releasedesk/events/catalog"
)

// pruneSet is what a host just switched prunes to keep the project's
// keep_releases releases: always the current one and the one it replaced
// (so a revert or a one-step rollback never lacks its target), then the
// newest others. The host's releases are those prepare listed under the
// lock, with this run's. A failed prune shows in the switch step, not as
// the host's failure: the release is live and good; the next deployment
// prunes again.
func (d *deployment) pruneSet(hr *hostRun) []string {
	keep := d.p.KeepReleases
	if keep <= 0 {
		keep = catalog.DefaultKeepReleases
	}
	releases := hr.releases
	if !slices.Contains(releases, d.req.Version) {
		releases = append(slices.Clone(releases), d.req.Version)
	}
	return pruneSet(releases, keep, d.req.Version, hr.previous)
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
