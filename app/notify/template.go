package notify

import (
	"fmt"
	"io"
	"regexp"
	"text/template"
	"text/template/parse"

	"releasedesk/events/text"
)

// TemplateData is what a message template may use, the same for every
// trigger (a field a trigger has nothing for is empty). A template is Go's
// text/template over it: {{.Project}}, {{range .Mentions}}...{{end}}.
type TemplateData struct {
	// Trigger is what happened: one of Triggers, such as "approval.needed".
	Trigger string
	// Project is the project's id.
	Project string
	// Environment is the environment the event is about ("" when none).
	Environment string
	// Release is the release's id ("" for a drift found outside one).
	Release string
	// Title is the release's title, as its requester wrote it.
	Title string
	// Branch is the release's branch.
	Branch string
	// Version is the version deployed or to deploy.
	Version string
	// Commit is the commit's full hash.
	Commit string
	// Actor is the user who did what the message tells.
	Actor string
	// Time is when it happened, written in the channel's language.
	Time string
	// Link is the address of the release or deployment in Release Desk.
	Link string
	// Deployment is the deployment's id ("" when none).
	Deployment string
	// Reason is the note of a rejection, or why a deployment failed.
	Reason string
	// Mentions are the people the message calls on to act, as the channel
	// writes a mention (an @mobile, a user id, a name).
	Mentions []string
}

// SampleData is the data a template is tried on when it is saved. It has
// one mention, so a range over Mentions runs once.
var SampleData = TemplateData{
	Trigger: "approval.needed", Project: "blog", Environment: "production",
	Release: "r42", Title: "Fix the login page", Branch: "feature/login",
	Version: "20250101120000-0123456", Commit: "0123456789abcdef0123456789abcdef01234567",
	Actor: "alice", Time: "2025-01-01 12:00:00", Link: "https://releasedesk.example.com/releases/r42",
	Deployment: "d7", Reason: "tests fail on Safari", Mentions: []string{"@13800000000"},
}

// maxTemplateLen bounds a template: a message, not a program.
const maxTemplateLen = 4 << 10

// maxTemplateOutput bounds what trying a template may write.
const maxTemplateOutput = 64 << 10

// CheckTemplate checks a trigger's template: it must parse, and execute
// over SampleData without error, so a field that does not exist
// ({{.Nope}}) is refused when the configuration is saved, not when a
// message is due. A template is text for people, not a program: it may
// not define or call other templates, nor range over anything but a field,
// nor nest ranges, nor pad numbers or text wider than 99 (each could make
// one message cost minutes or gigabytes).
func CheckTemplate(src string) error {
	if len(src) > maxTemplateLen {
		return text.Errorf("%d bytes: at most %d", len(src), maxTemplateLen)
	}
	t, err := NewTemplate(src)
	if err != nil {
		return err
	}
	w := &limitedWriter{left: maxTemplateOutput}
	if err := t.Execute(w, SampleData); err != nil {
		return text.Errorf("does not run: %v", err)
	}
	return nil
}

// NewTemplate parses a template and checks its shape (see CheckTemplate);
// it refuses a field missing from a map too (missingkey=error).
func NewTemplate(src string) (*template.Template, error) {
	t, err := template.New("message").Option("missingkey=error").Funcs(template.FuncMap{"printf": boundedPrintf}).Parse(src)
	if err != nil {
		return nil, text.Errorf("does not parse: %v", err)
	}
	if len(t.Templates()) > 1 {
		return nil, text.Errorf("defines a template: a message template is one text")
	}
	if err := checkShape(t.Tree.Root, false); err != nil {
		return nil, err
	}
	return t, nil
}

func checkShape(n parse.Node, inRange bool) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkShape(c, inRange); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		return text.Errorf("calls template %q: a message template is one text", n.Name)
	case *parse.IfNode:
		return checkBranches(n.List, n.ElseList, inRange)
	case *parse.WithNode:
		return checkBranches(n.List, n.ElseList, inRange)
	case *parse.RangeNode:
		if inRange {
			return text.Errorf("a range inside a range: one level only")
		}
		if !rangesOverField(n.Pipe) {
			return text.Errorf("ranges over %s: only over a field, such as {{range .Mentions}}", n.Pipe)
		}
		return checkBranches(n.List, n.ElseList, true)
	}
	return nil
}

func checkBranches(list, elseList *parse.ListNode, inRange bool) error {
	if err := checkShape(list, inRange); err != nil {
		return err
	}
	return checkShape(elseList, inRange)
}

func rangesOverField(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	_, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
	return ok
}

// wideVerbRe finds a width or precision of three digits or more in a
// printf format: "%0999999999d" would allocate that many bytes.
var wideVerbRe = regexp.MustCompile(`%[-+# 0]*(\[\d+\])?(\d{3,}|\*|\d*\.(\d{3,}|\*))`)

// boundedPrintf is text/template's printf without wide padding.
func boundedPrintf(format string, args ...any) (string, error) {
	if wideVerbRe.MatchString(format) {
		return "", text.Errorf("printf %q: a width or precision of at most 99", format)
	}
	return fmt.Sprintf(format, args...), nil
}

// limitedWriter takes at most left bytes, then fails.
type limitedWriter struct{ left int }

func (w *limitedWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		w.left = 0
		return 0, text.Errorf("writes more than %d bytes", maxTemplateOutput)
	}
	w.left -= len(p)
	return len(p), nil
}

var _ io.Writer = (*limitedWriter)(nil)
