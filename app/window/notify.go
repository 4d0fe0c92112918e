package window

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/sirupsen/logrus"
)

// NotifyEventName is the Wails event the page emits to ask for a desktop
// notification, with two strings: its title and its body. The page decides
// when (something new waits for its user) and says it in the user's
// language; the window only shows it.
const NotifyEventName = "releasedesk:notify"

// The longest title and body shown, in characters: a notification is a
// glance, and a daemon given a page of text shows a wall of it.
const (
	maxNoteTitle = 200
	maxNoteBody  = 1000
)

// noteQueue is how many notifications may wait to be shown. The page asks
// for a handful at a time at most; beyond this the window is clearly not
// keeping up (a daemon hanging), and more would only pile up.
const noteQueue = 8

// desktopNote is one notification for the machine's desktop.
type desktopNote struct {
	Title string
	Body  string
}

// noteFromEvent reads the page's event data: a title and a body, both
// strings, the title not empty once cleaned.
func noteFromEvent(data []any) (desktopNote, error) {
	if len(data) != 2 {
		return desktopNote{}, errors.New("want two strings, a title and a body")
	}
	title, ok1 := data[0].(string)
	body, ok2 := data[1].(string)
	if !ok1 || !ok2 {
		return desktopNote{}, errors.New("title and body must be strings")
	}
	n := desktopNote{Title: cleanNoteText(title, maxNoteTitle, false), Body: cleanNoteText(body, maxNoteBody, true)}
	// beeep's fallback runs notify-send, which would read a title starting
	// with a dash as one of its options.
	n.Title = strings.TrimLeft(n.Title, "-")
	if strings.TrimSpace(n.Title) == "" {
		return desktopNote{}, errors.New("the title is empty")
	}
	return n, nil
}

// cleanNoteText drops control characters (line breaks too, unless
// multiline), trims, and cuts text at max characters with an ellipsis.
func cleanNoteText(s string, max int, multiline bool) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' && multiline:
			return r
		case r == '\n' || r == '\t':
			return ' '
		case unicode.IsControl(r) || r == unicode.ReplacementChar:
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > max {
		s = strings.TrimSpace(string(r[:max-1])) + "…"
	}
	return s
}

// escapeMarkup makes text plain for a freedesktop notification daemon,
// which reads a body as markup: a release title "<b>fix</b>" is shown as
// typed, not bold, and a stray "&" does not drop the whole body.
func escapeMarkup(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// notifier shows the page's notifications one at a time, in its own
// goroutine: a notification daemon may answer slowly, or not at all, and
// neither the window's UI thread nor Wails' event dispatch may wait for it.
// A failure is logged, never fatal: a desktop without a notification
// daemon still has the window.
type notifier struct {
	show  func(desktopNote) error
	log   logrus.FieldLogger
	queue chan desktopNote

	failing bool // the last one failed: the next failure is said at debug only (run's goroutine alone)
}

func newNotifier(show func(desktopNote) error, log logrus.FieldLogger) *notifier {
	return &notifier{show: show, log: log, queue: make(chan desktopNote, noteQueue)}
}

// offer takes a Wails event's data and queues its notification; it never
// blocks: bad data or a full queue is logged and dropped.
func (n *notifier) offer(data ...any) {
	note, err := noteFromEvent(data)
	if err != nil {
		n.log.WithError(err).Debug("desktop notification asked for with bad data: not shown")
		return
	}
	select {
	case n.queue <- note:
	default:
		n.log.WithField("title", note.Title).Debug("desktop notifications pile up: this one is not shown")
	}
}

// run shows queued notifications until ctx ends.
func (n *notifier) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case note := <-n.queue:
			n.showOne(note)
		}
	}
}

func (n *notifier) showOne(note desktopNote) {
	err := n.show(note)
	wasFailing := n.failing
	n.failing = err != nil
	log := n.log.WithField("title", note.Title)
	switch {
	case err == nil:
		log.Debug("desktop notification shown")
	case wasFailing:
		// Said once already: a desktop without a daemon fails every time.
		log.WithError(err).Debug("desktop notification not shown")
	default:
		log.WithError(err).Warn("desktop notification not shown (is a notification daemon running?)")
	}
}
