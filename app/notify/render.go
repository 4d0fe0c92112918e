package notify

import (
	"strings"
	"time"

	"text/template"

	"releasedesk/events/text"
)

// Occurrence is where and when the event a message tells of happened:
// the facts of the webhook's Event that TemplateData holds only as text.
type Occurrence struct {
	Position uint64    // the event's position in the log
	Time     time.Time // when it happened
}

// Render writes a trigger's message in a language: with the channel's own
// template for the trigger (override, from its configuration's templates)
// when it has one, else with the default of the language. The first line
// the template writes is the title, every other non-blank line one of the
// Lines. The text is the data as given: escaping is each builder's job,
// and the mentions are the caller's to add (a template may still write
// .Mentions as text).
func Render(trigger, language string, data TemplateData, override string, at Occurrence) (Message, error) {
	if trigger == TestTrigger {
		override = "" // a test message is ours: the channel's templates are for its triggers
	} else if err := CheckTrigger(trigger); err != nil {
		return Message{}, err
	}
	if err := CheckLanguage(language); err != nil {
		return Message{}, err
	}
	if language == "" {
		language = Languages[0]
	}
	data.Trigger = trigger
	t, linkText, err := pickTemplate(trigger, language, override)
	if err != nil {
		return Message{}, err
	}
	out, err := execute(t, data)
	if err != nil {
		return Message{}, text.Errorf("the message of %s does not run: %v", trigger, err)
	}
	title, lines := splitMessage(out)
	if title == "" {
		return Message{}, text.Errorf("the message of %s is empty: it needs at least a title line", trigger)
	}
	return Message{
		Language: language, Title: title, Lines: lines,
		Link: data.Link, LinkText: linkText,
		Event: Event{
			Type: trigger, Position: at.Position, Project: data.Project, Environment: data.Environment,
			Release: data.Release, Title: data.Title, Version: data.Version, Actor: data.Actor,
			Time: at.Time, Link: data.Link,
		},
	}, nil
}

// pickTemplate is the channel's template when it has one (checked as when
// it was saved: the configuration on disk may predate a rule), else the
// language's default with the words of its link.
func pickTemplate(trigger, language, override string) (*template.Template, string, error) {
	if override == "" {
		return defaultTemplate(trigger, language)
	}
	if len(override) > maxTemplateLen {
		return nil, "", text.Errorf("the template of %s is %d bytes: at most %d", trigger, len(override), maxTemplateLen)
	}
	t, err := NewTemplate(override)
	if err != nil {
		return nil, "", text.Errorf("the template of %s: %v", trigger, err)
	}
	return t, "", nil
}

// execute runs a template with CheckTemplate's bound on what it writes.
func execute(t *template.Template, data TemplateData) (string, error) {
	var b strings.Builder
	w := &limitedWriter{left: maxTemplateOutput}
	if err := t.Execute(teeWriter{w, &b}, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// teeWriter writes to the limit first, so nothing past it is kept.
type teeWriter struct {
	limit *limitedWriter
	out   *strings.Builder
}

func (t teeWriter) Write(p []byte) (int, error) {
	if n, err := t.limit.Write(p); err != nil {
		return n, err
	}
	return t.out.Write(p)
}

// splitMessage is the first non-blank line as the title (a template may
// start with a {{if}} on its own line) and the other
// non-blank lines as the body, each without its trailing blanks.
func splitMessage(s string) (title string, lines []string) {
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = strings.TrimRight(l, " \t\r"); strings.TrimSpace(l) == "" {
			continue
		}
		if title == "" {
			title = strings.TrimSpace(l)
			continue
		}
		lines = append(lines, l)
	}
	return title, lines
}
