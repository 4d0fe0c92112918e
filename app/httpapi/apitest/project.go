//go:build linux

package apitest

import "fmt"

// LocalProject is the configuration (YAML) of project id: the local
// strategy, from repo, with a test stage and a production stage that
// needs approval, in directories of target.
func LocalProject(id, repo, target string) string {
	return fmt.Sprintf(`id: %s
repo: %s
branch: master
strategy: local
keep_releases: 5
environments:
  - name: test
    path: %s/%s-test
  - name: production
    path: %s/%s-prod
    approval: true
`, id, repo, target, id, target, id)
}
