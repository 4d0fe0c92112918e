// Package projectconfig reads, checks, compares and writes a project
// configuration (DESIGN.md section 5): a YAML or JSON document read
// strictly into a catalog.Project, then validated completely, so that one
// answer lists every problem, each named by its path in the document
// ("environments[1].hosts[0]"). Nothing here runs or touches anything: a
// configuration is only data until the runner publishes with it, and the
// runner's own checks (runner.Submit) are a second line, not the first.
// A rule both check is one function of the runner's (runner/rules.go),
// which Validate calls with the field's path.
//
//   - Parse and Validate: every problem at once, each named by its path
//     (Errors of FieldError).
//   - Diff: the readable lines of a project.configured event.
//   - MarshalYAML: the canonical YAML the UI shows and edits.
package projectconfig
