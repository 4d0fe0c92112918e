package runner

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"releasedesk/events/catalog"
)

// resolvedEnv is a project's hook environment with its values read, and the
// secret values to scrub from everything the runner records.
type resolvedEnv struct {
	Pairs   []string // NAME=value, in configuration order
	Hidden  []string // NAME=value of the variables marked secret (also in Pairs)
	Secrets []string // values of the variables marked secret, to redact
}

// plain is Pairs without the secret variables: what may travel in argv.
func (e resolvedEnv) plain() []string {
	var out []string
	for _, kv := range e.Pairs {
		if !slices.Contains(e.Hidden, kv) {
			out = append(out, kv)
		}
	}
	return out
}

// resolveEnv reads every EnvVar's value: Value as written, FromFile from a
// file on this machine (one trailing newline dropped, as editors add one),
// FromEnv from this process's environment. A secret is read at run time so
// its value never travels in an event; an unreadable file or an unset
// variable fails the deployment rather than run hooks with an empty secret.
func resolveEnv(vars []catalog.EnvVar) (resolvedEnv, error) {
	var out resolvedEnv
	for _, v := range vars {
		if err := CheckEnvVarName(v.Name); err != nil {
			return resolvedEnv{}, fmt.Errorf("env name %w", err)
		}
		val, err := envValue(v)
		if err != nil {
			return resolvedEnv{}, err
		}
		out.Pairs = append(out.Pairs, v.Name+"="+val)
		if v.Secret {
			out.Hidden = append(out.Hidden, v.Name+"="+val)
		}
		if v.Secret && val != "" {
			out.Secrets = append(out.Secrets, val)
			// A multi-line secret may be printed one line at a time.
			for line := range strings.SplitSeq(val, "\n") {
				if line = strings.TrimSpace(line); len(line) >= minSecretLine {
					out.Secrets = append(out.Secrets, line)
				}
			}
		}
	}
	out.Secrets = dedupeLongestFirst(out.Secrets)
	return out, nil
}

// minSecretLine is the shortest line of a multi-line secret redacted on its
// own: shorter lines ("-----", "}") are too common to hide without hiding
// ordinary output.
const minSecretLine = 8

func envValue(v catalog.EnvVar) (string, error) {
	set := 0
	for _, s := range []string{v.Value, v.FromFile, v.FromEnv} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return "", fmt.Errorf("env %s: set only one of value, from_file, from_env", v.Name)
	}
	switch {
	case v.FromFile != "":
		b, err := os.ReadFile(v.FromFile)
		if err != nil {
			// The path is configuration, not a secret: name it.
			return "", fmt.Errorf("env %s: read %s: %w", v.Name, v.FromFile, err)
		}
		return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
	case v.FromEnv != "":
		val, ok := os.LookupEnv(v.FromEnv)
		if !ok {
			return "", fmt.Errorf("env %s: variable %s is not set in the runner's environment", v.Name, v.FromEnv)
		}
		return val, nil
	}
	return v.Value, nil
}

// dedupeLongestFirst sorts secrets longest first (so a secret containing
// another is replaced whole) and drops duplicates and empties.
func dedupeLongestFirst(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
