package window

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

func TestNoteFromEventCleansWhatThePageSends(t *testing.T) {
	n, err := noteFromEvent([]any{"  Test release 4\ton test\n", "shop · Opened\n\x07by dev\x1b[31m"})
	if err != nil {
		t.Fatal(err)
	}
	if n.Title != "Test release 4 on test" {
		t.Errorf("title %q: want control characters gone, one line, trimmed", n.Title)
	}
	if n.Body != "shop · Opened\nby dev[31m" {
		t.Errorf("body %q: want its line breaks kept and control characters gone", n.Body)
	}

	long, err := noteFromEvent([]any{strings.Repeat("版", 300), strings.Repeat("x", 5000)})
	if err != nil {
		t.Fatal(err)
	}
	if got := len([]rune(long.Title)); got != maxNoteTitle || !strings.HasSuffix(long.Title, "…") {
		t.Errorf("a long title is cut to %d characters with an ellipsis: got %d, %q", maxNoteTitle, got, long.Title[len(long.Title)-6:])
	}
	if got := len([]rune(long.Body)); got != maxNoteBody {
		t.Errorf("a long body is cut to %d characters: got %d", maxNoteBody, got)
	}

	dash, err := noteFromEvent([]any{"--help me", ""})
	if err != nil || dash.Title != "help me" {
		t.Errorf("a leading dash would be an option of notify-send: got %q, %v", dash.Title, err)
	}
}

func TestNoteFromEventRefusesWhatIsNoNote(t *testing.T) {
	for name, data := range map[string][]any{
		"nothing":     nil,
		"title only":  {"Approve release 4"},
		"a number":    {"Approve release 4", 42.0},
		"an object":   {map[string]any{"title": "x"}, ""},
		"blank title": {" \n\t-- ", "body"},
		"three":       {"a", "b", "c"},
	} {
		if n, err := noteFromEvent(data); err == nil {
			t.Errorf("%s: want a refusal, got %+v", name, n)
		}
	}
}

func TestEscapeMarkupKeepsTextPlain(t *testing.T) {
	if got := escapeMarkup(`<b>fix</b> & "ship"`); got != `&lt;b&gt;fix&lt;/b&gt; &amp; "ship"` {
		t.Errorf("got %q", got)
	}
}

// The notifier shows notes in order off the caller's goroutine, never
// blocks the caller, and says a run of failures once at warning level.
func TestNotifierShowsInOrderAndLogsFailures(t *testing.T) {
	logged := &lockedBuffer{}
	log := logrus.New()
	log.SetOutput(logged)
	log.SetLevel(logrus.DebugLevel)

	entered := make(chan struct{}, 20)
	release := make(chan struct{})
	shown := make(chan desktopNote, 20)
	n := newNotifier(func(note desktopNote) error {
		entered <- struct{}{}
		<-release // a daemon that answers only when told
		shown <- note
		if strings.HasPrefix(note.Title, "fail") {
			return errors.New("org.freedesktop.Notifications was not provided by any .service files")
		}
		return nil
	}, log)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.run(ctx)

	// The daemon hangs on the first: offers still return at once, and past
	// the queue's room they are dropped rather than piled up.
	n.offer("fail 0", "")
	<-entered
	offered := make(chan struct{})
	go func() {
		for i := 1; i <= noteQueue+5; i++ {
			n.offer(fmt.Sprintf("fail %d", i), "")
		}
		close(offered)
	}()
	select {
	case <-offered:
	case <-time.After(5 * time.Second):
		t.Fatal("offer blocked while the daemon hung")
	}
	n.offer(42, "not a note")
	close(release)

	var titles []string
	for len(titles) < noteQueue+1 { // the one being shown, and a full queue
		select {
		case note := <-shown:
			titles = append(titles, note.Title)
		case <-time.After(5 * time.Second):
			t.Fatalf("shown %v, want %d", titles, noteQueue+1)
		}
	}
	for i, title := range titles {
		if want := fmt.Sprintf("fail %d", i); title != want {
			t.Fatalf("shown %v: want them in the order offered", titles)
		}
	}
	select {
	case extra := <-shown:
		t.Fatalf("%q shown: offers beyond the queue should have been dropped", extra.Title)
	case <-time.After(100 * time.Millisecond):
	}

	n.offer("works now", "")
	select {
	case <-shown:
	case <-time.After(5 * time.Second):
		t.Fatal("the notifier stopped after failures")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logged.String(), "desktop notification shown") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logged.String()
	if c := strings.Count(out, "level=warning"); c != 1 {
		t.Errorf("%d warnings, want one for a run of failures:\n%s", c, out)
	}
	for _, want := range []string{"pile up", "bad data", "desktop notification shown"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log says nothing of %q:\n%s", want, out)
		}
	}
}

// lockedBuffer is a log output the test reads while the notifier writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
