package notify

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

var sampleAt = Occurrence{Position: 42, Time: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}

func hasHan(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}

// TestDefaults: every trigger has a default in each language that runs on
// the sample (and on data with nothing but the project), writes a title
// and no trace of a missing field or a bad printf, and is written in its
// language.
func TestDefaults(t *testing.T) {
	bare := TemplateData{Project: "blog"}
	for _, lang := range Languages {
		for _, trigger := range Triggers {
			for name, data := range map[string]TemplateData{"sample": SampleData, "bare": bare} {
				m, err := Render(trigger, lang, data, "", sampleAt)
				if err != nil {
					t.Errorf("%s %s %s: %v", lang, trigger, name, err)
					continue
				}
				all := m.Title + "\n" + strings.Join(m.Lines, "\n")
				if strings.TrimSpace(m.Title) == "" {
					t.Errorf("%s %s %s: no title", lang, trigger, name)
				}
				for _, bad := range []string{"<no value>", "%!", "{{", "}}"} {
					if strings.Contains(all, bad) {
						t.Errorf("%s %s %s: %q in %q", lang, trigger, name, bad, all)
					}
				}
				for _, l := range m.Lines {
					if strings.TrimSpace(l) == "" {
						t.Errorf("%s %s %s: a blank line kept: %q", lang, trigger, name, m.Lines)
					}
				}
				if name == "sample" && !strings.Contains(all, SampleData.Project) {
					t.Errorf("%s %s: the project is not named: %q", lang, trigger, all)
				}
				if got := hasHan(all + m.LinkText); got != (lang == "zh-CN") {
					t.Errorf("%s %s %s: Han characters %v in %q", lang, trigger, name, got, all)
				}
			}
		}
	}
}

// TestDefaultGolden pins the words of one default per language, so a
// change of them is deliberate.
func TestDefaultGolden(t *testing.T) {
	want := map[string]Message{
		"en": {Title: "Approval needed: blog release r42 to production", Lines: []string{
			"Fix the login page",
			"Version: 20250101120000-0123456 (branch feature/login)",
			"Requested by alice",
			"Time: 2025-01-01 12:00:00",
		}, LinkText: "Open in Release Desk"},
		"zh-CN": {Title: "待审批：blog 发布单 r42 申请部署到 production 环境", Lines: []string{
			"Fix the login page",
			"版本：20250101120000-0123456（分支 feature/login）",
			"申请人：alice",
			"时间：2025-01-01 12:00:00",
		}, LinkText: "在 Release Desk 中查看"},
	}
	for lang, w := range want {
		m, err := Render("approval.needed", lang, SampleData, "", sampleAt)
		if err != nil {
			t.Fatal(err)
		}
		if m.Title != w.Title || !slices.Equal(m.Lines, w.Lines) || m.LinkText != w.LinkText {
			t.Errorf("%s:\n got %q %q %q\nwant %q %q %q", lang, m.Title, m.Lines, m.LinkText, w.Title, w.Lines, w.LinkText)
		}
	}
}

// TestRenderFillsTheMessage: the link, the language and the webhook's
// event come from the data and the occurrence; the default language is
// English.
func TestRenderFillsTheMessage(t *testing.T) {
	m, err := Render("deployment.failed", "", SampleData, "", sampleAt)
	if err != nil {
		t.Fatal(err)
	}
	want := Event{Type: "deployment.failed", Position: 42, Project: "blog", Environment: "production", Release: "r42",
		Title: "Fix the login page", Version: "20250101120000-0123456", Actor: "alice", Time: sampleAt.Time, Link: SampleData.Link}
	if m.Event != want {
		t.Errorf("event %+v, want %+v", m.Event, want)
	}
	if m.Language != "en" || m.Link != SampleData.Link || len(m.Mentions.Mobiles)+len(m.Mentions.FeishuUserIDs)+len(m.Mentions.SlackMemberIDs) != 0 {
		t.Errorf("language %q, link %q, mentions %+v", m.Language, m.Link, m.Mentions)
	}
	if !slices.Contains(m.Lines, "Reason: tests fail on Safari") {
		t.Errorf("the reason is missing: %q", m.Lines)
	}
}

// TestRenderOverride: a channel's template replaces the default: its first
// line is the title, its other non-blank lines the body, verbatim.
func TestRenderOverride(t *testing.T) {
	src := "{{.Project}} 的发布单 {{.Release}} 等待审批  \n\n  申请人 {{.Actor}}\n{{if .Reason}}{{end}}\n{{range .Mentions}}{{.}} {{end}}请处理"
	m, err := Render("approval.needed", "zh-CN", SampleData, src, sampleAt)
	if err != nil {
		t.Fatal(err)
	}
	if m.Title != "blog 的发布单 r42 等待审批" || !slices.Equal(m.Lines, []string{"  申请人 alice", "@13800000000 请处理"}) {
		t.Errorf("title %q lines %q", m.Title, m.Lines)
	}
	if m.LinkText != "" || m.Link != SampleData.Link {
		t.Errorf("link %q %q: want the link itself", m.Link, m.LinkText)
	}
}

func TestRenderRefuses(t *testing.T) {
	for name, c := range map[string]struct{ trigger, lang, override, want string }{
		"unknown field":    {"approved", "en", "Approved {{.Nope}}", "the message of approved does not run: template: message:1:11: executing \"message\" at <.Nope>: can't evaluate field Nope"},
		"does not parse":   {"approved", "en", "{{.Project", "the template of approved: does not parse"},
		"defines":          {"approved", "en", `{{define "x"}}a{{end}}`, "defines a template"},
		"too long":         {"approved", "en", strings.Repeat("x", 4097), "at most 4096"},
		"blank":            {"approved", "en", " \n{{if false}}x{{end}}\n", "the message of approved is empty"},
		"unknown trigger":  {"approval", "en", "", `unknown trigger "approval"`},
		"unknown language": {"approved", "fr", "", `unknown language "fr"`},
	} {
		_, err := Render(c.trigger, c.lang, SampleData, c.override, sampleAt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	// The bound on what a template writes holds for the data too.
	huge := SampleData
	huge.Title = strings.Repeat("x", maxTemplateOutput+1)
	if _, err := Render("approved", "en", huge, "", sampleAt); err == nil || !strings.Contains(err.Error(), "writes more than") {
		t.Errorf("a huge title: %v, want writes more than", err)
	}
}

// TestRenderThenBuildEscapes: hostile data passes Render unchanged, and
// the builders escape it on the way out.
func TestRenderThenBuildEscapes(t *testing.T) {
	const title = "@all [click](http://evil) <script>"
	data := SampleData
	data.Title = title
	for _, lang := range Languages {
		m, err := Render("approval.needed", lang, data, "", sampleAt)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(m.Lines, title) || m.Event.Title != title {
			t.Fatalf("%s: the title was changed by Render: %q %q", lang, m.Lines, m.Event.Title)
		}
		for _, v := range vendors() {
			if v.name != KindDingTalk && v.name != KindSlack {
				continue
			}
			_, good, _ := v.start(t)
			r, err := v.build(m, good, testSecret, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			var decoded any
			if err := json.Unmarshal(r.Body, &decoded); err != nil {
				t.Fatal(err)
			}
			all := strings.Join(jsonStrings(decoded), "\n")
			for _, bad := range []string{"@all", "[click](", "<script>"} {
				if strings.Contains(all, bad) {
					t.Errorf("%s %s: %q arrived unescaped: %s", lang, v.name, bad, all)
				}
			}
			if !strings.Contains(all, "click") {
				t.Errorf("%s %s: the words were lost: %s", lang, v.name, all)
			}
		}
	}
}
