package projections

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The runner's payloads as the tests write them: the same JSON field names
// as runner/events.go and runner/config.go (projections may not import the
// runner). TestRunnerContract checks every tag here against that source,
// so a renamed field on the runner's side fails here, not in production.

type rProject struct {
	ID           string         `json:"id"`
	Title        string         `json:"title,omitempty"`
	Repo         string         `json:"repo"`
	Branch       string         `json:"branch"`
	Strategy     string         `json:"strategy"`
	KeepReleases int            `json:"keep_releases,omitempty"`
	Environments []rEnvironment `json:"environments"`
}

type rEnvironment struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	Hosts     []any  `json:"hosts,omitempty"` // "user@host:port" or rHost
	SSHKey    string `json:"ssh_key,omitempty"`
	Parallel  int    `json:"parallel,omitempty"`
	Batch     int    `json:"batch,omitempty"`
	OnFailure string `json:"on_failure,omitempty"`
	Approval  bool   `json:"approval,omitempty"`
}

type rHost struct {
	Addr string `json:"addr"`
	Path string `json:"path,omitempty"`
}

type rRequest struct {
	Deployment  string   `json:"deployment"`
	Kind        string   `json:"kind"`
	Project     rProject `json:"project"`
	Environment string   `json:"environment"`
	Commit      string   `json:"commit"`
	Version     string   `json:"version"`
	Release     string   `json:"release,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	Hosts       []string `json:"hosts,omitempty"`
}

type rStarted struct {
	Deployment string `json:"deployment"`
	Runner     string `json:"runner"`
}

type rPlanned struct {
	Deployment   string     `json:"deployment"`
	Project      string     `json:"project"`
	Environment  string     `json:"environment"`
	Version      string     `json:"version"`
	Commit       string     `json:"commit"`
	Kind         string     `json:"kind"`
	Batches      [][]string `json:"batches"`
	Parallel     int        `json:"parallel"`
	OnFailure    string     `json:"on_failure"`
	ManifestHash string     `json:"manifest_hash,omitempty"`
	Files        int        `json:"files"`
	Bytes        int64      `json:"bytes"`
	Skipped      []string   `json:"skipped,omitempty"`
}

type rStepStarted struct {
	Deployment string   `json:"deployment"`
	Step       string   `json:"step"`
	Name       string   `json:"name"`
	Host       string   `json:"host,omitempty"`
	Command    []string `json:"command,omitempty"`
}

type rStepOutput struct {
	Deployment string `json:"deployment"`
	Step       string `json:"step"`
	Host       string `json:"host,omitempty"`
	Text       string `json:"text"`
	Truncated  bool   `json:"truncated,omitempty"`
}

type rStepFinished struct {
	Deployment string `json:"deployment"`
	Step       string `json:"step"`
	Host       string `json:"host,omitempty"`
	ExitCode   int    `json:"exit_code"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
}

type rHostEvent struct {
	Deployment  string `json:"deployment"`
	Project     string `json:"project"`
	Environment string `json:"environment"`
	Host        string `json:"host"`
	Version     string `json:"version,omitempty"`
	Commit      string `json:"commit,omitempty"`
	Previous    string `json:"previous,omitempty"`
	Step        string `json:"step,omitempty"`
	Error       string `json:"error,omitempty"`
}

type rFinished struct {
	Deployment  string   `json:"deployment"`
	Project     string   `json:"project"`
	Environment string   `json:"environment"`
	Version     string   `json:"version"`
	Commit      string   `json:"commit"`
	Kind        string   `json:"kind"`
	Switched    []string `json:"switched,omitempty"`
	Failed      []string `json:"failed,omitempty"`
	Reverted    []string `json:"reverted,omitempty"`
	Error       string   `json:"error,omitempty"`
	DurationMS  int64    `json:"duration_ms"`
}

type rCancelRequested struct {
	Deployment string `json:"deployment"`
	Reason     string `json:"reason,omitempty"`
}

type rResumed struct {
	Deployment string   `json:"deployment"`
	Hosts      []string `json:"hosts"`
}

type rLockEvent struct {
	Project     string    `json:"project"`
	Environment string    `json:"environment"`
	Deployment  string    `json:"deployment"`
	Holder      string    `json:"holder"`
	Since       time.Time `json:"since,omitzero"`
	Reason      string    `json:"reason,omitempty"`
}

type rHostKeyEvent struct {
	Host        string `json:"host"`
	KeyType     string `json:"key_type"`
	Fingerprint string `json:"fingerprint"`
	Key         string `json:"key,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Deployment  string `json:"deployment,omitempty"`
}

type rPruned struct {
	Deployment  string   `json:"deployment"`
	Project     string   `json:"project"`
	Environment string   `json:"environment"`
	Host        string   `json:"host"`
	Versions    []string `json:"versions"`
}

type rDriftReport struct {
	Project     string       `json:"project"`
	Environment string       `json:"environment"`
	Hosts       []rHostDrift `json:"hosts"`
}

type rHostDrift struct {
	Host     string `json:"host"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	Commit   string `json:"commit,omitempty"`
	Error    string `json:"error,omitempty"`
	Drifted  bool   `json:"drifted"`
}

// TestRunnerContract reads the runner's source and checks that each field
// the tests (and so the decoder) use exists there with the same JSON name.
func TestRunnerContract(t *testing.T) {
	runnerTags := map[string]map[string]bool{}
	fset := token.NewFileSet()
	for _, file := range []string{"events.go", "config.go"} {
		f, err := parser.ParseFile(fset, filepath.Join("..", "runner", file), nil, 0)
		if err != nil {
			t.Fatalf("read the runner's %s: %v", file, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			tags := map[string]bool{}
			for _, fld := range st.Fields.List {
				if fld.Tag == nil {
					continue
				}
				raw, _ := strconv.Unquote(fld.Tag.Value)
				name, _, _ := strings.Cut(reflect.StructTag(raw).Get("json"), ",")
				tags[name] = true
			}
			runnerTags[ts.Name.Name] = tags
			return true
		})
	}
	ours := map[string]any{
		"Project": rProject{}, "Environment": rEnvironment{}, "Host": rHost{}, "Request": rRequest{},
		"Started": rStarted{}, "Planned": rPlanned{}, "StepStarted": rStepStarted{}, "StepOutput": rStepOutput{},
		"StepFinished": rStepFinished{}, "HostEvent": rHostEvent{}, "Finished": rFinished{},
		"CancelRequested": rCancelRequested{}, "Resumed": rResumed{}, "LockEvent": rLockEvent{},
		"HostKeyEvent": rHostKeyEvent{}, "Pruned": rPruned{}, "DriftReport": rDriftReport{}, "HostDrift": rHostDrift{},
	}
	for name, v := range ours {
		theirs, ok := runnerTags[name]
		if !ok {
			t.Errorf("runner has no type %s", name)
			continue
		}
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if !theirs[tag] {
				t.Errorf("runner.%s has no JSON field %q", name, tag)
			}
		}
	}
	// The event type names too.
	src, err := parser.ParseFile(fset, filepath.Join("..", "runner", "events.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]bool{}
	ast.Inspect(src, func(n ast.Node) bool {
		if bl, ok := n.(*ast.BasicLit); ok && bl.Kind == token.STRING {
			s, _ := strconv.Unquote(bl.Value)
			consts[s] = true
		}
		return true
	})
	for _, typ := range auditTypes {
		if strings.HasPrefix(typ, "user.") || strings.HasPrefix(typ, "token.") || strings.HasPrefix(typ, "project.") ||
			strings.HasPrefix(typ, "version.") || strings.HasPrefix(typ, "rollback.") ||
			(strings.HasPrefix(typ, "release.") && typ != typeReleasePruned) {
			continue
		}
		if !consts[typ] {
			t.Errorf("runner/events.go does not define event type %q", typ)
		}
	}
}
