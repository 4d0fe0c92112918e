package catalog

import "strings"

// Every stream is a prefix and an id. The prefixes are the vocabulary's:
// the producers name streams with the builders below, and the read models
// tell streams apart by prefix (StreamID).
const (
	UserPrefix    = "user/"    // user/<name>: a person's account, roles, tokens, logins
	ProjectPrefix = "project/" // project/<id>: configuration, rollbacks, versions marked bad
	ReleasePrefix = "release/" // release/<id>: the people's decisions on one release
	DeployPrefix  = "deploy/"  // deploy/<id>: one deployment, from its request to its end
	LockPrefix    = "lock/"    // lock/<project>/<env>: who holds an environment
	HostPrefix    = "host/"    // host/<addr>: trust decisions on one host's key
	DriftPrefix   = "drift/"   // drift/<project>/<env>: what the hosts really run
)

// UnknownLoginStream holds the failed logins of names that are no user, so
// they do not create a user/<name> stream a later CreateUser would find.
const UnknownLoginStream = "login/unknown"

// UserStream is the stream of one user.
func UserStream(name string) string { return UserPrefix + name }

// ProjectStream is the stream of one project.
func ProjectStream(id string) string { return ProjectPrefix + id }

// ReleaseStream is the stream of one release.
func ReleaseStream(id string) string { return ReleasePrefix + id }

// DeployStream is the stream of one deployment.
func DeployStream(id string) string { return DeployPrefix + id }

// LockStream is the stream of an environment's lock.
func LockStream(project, env string) string { return LockPrefix + project + "/" + env }

// HostStream is the stream of one host's key decisions.
func HostStream(addr string) string { return HostPrefix + addr }

// DriftStream is the stream of an environment's drift checks.
func DriftStream(project, env string) string { return DriftPrefix + project + "/" + env }

// StreamID returns the part of stream after prefix, or "" when stream does
// not start with prefix or has nothing after it.
func StreamID(stream, prefix string) string {
	id, ok := strings.CutPrefix(stream, prefix)
	if !ok {
		return ""
	}
	return id
}
