package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
)

// chaosStoreDamage is one way to damage a stopped (or killed) app's store.
type chaosStoreDamage struct {
	name  string
	kill  bool // SIGKILL the app instead of stopping it (events left in the WAL)
	apply func(t *testing.T, badgerDir string) string
}

// chaosBadgerFiles lists the files of ext in dir, largest first.
func chaosBadgerFiles(t *testing.T, dir, ext string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*"+ext))
	sort.Slice(m, func(i, j int) bool { return chaosFileSize(m[i]) > chaosFileSize(m[j]) })
	if len(m) == 0 {
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, fmt.Sprintf("%s(%d)", e.Name(), chaosFileSize(filepath.Join(dir, e.Name()))))
		}
		t.Fatalf("no %s file in %s: %v", ext, dir, names)
	}
	return m
}

func chaosFileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return st.Size()
}

func chaosFlipByte(t *testing.T, p string, at int64) {
	t.Helper()
	fh, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	b := make([]byte, 1)
	if _, err := fh.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := fh.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// chaosWalUsed is the length of a memtable log's written part (the file is
// preallocated with zeros past it).
func chaosWalUsed(t *testing.T, p string) int64 {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(b))
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return n
}

var chaosStoreDamages = []chaosStoreDamage{
	{name: "a byte flipped in the middle of a table (.sst)", apply: func(t *testing.T, dir string) string {
		p := chaosBadgerFiles(t, dir, ".sst")[0]
		chaosFlipByte(t, p, chaosFileSize(p)/3)
		return filepath.Base(p)
	}},
	{name: "a byte flipped in a table's index (.sst, near its end)", apply: func(t *testing.T, dir string) string {
		p := chaosBadgerFiles(t, dir, ".sst")[0]
		chaosFlipByte(t, p, chaosFileSize(p)-40)
		return filepath.Base(p)
	}},
	{name: "a table truncated to half (.sst)", apply: func(t *testing.T, dir string) string {
		p := chaosBadgerFiles(t, dir, ".sst")[0]
		if err := os.Truncate(p, chaosFileSize(p)/2); err != nil {
			t.Fatal(err)
		}
		return filepath.Base(p)
	}},
	{name: "a table deleted (.sst; the MANIFEST names it)", apply: func(t *testing.T, dir string) string {
		p := chaosBadgerFiles(t, dir, ".sst")[0]
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		return filepath.Base(p)
	}},
	{name: "the write-ahead log (.mem) truncated after a crash", kill: true, apply: func(t *testing.T, dir string) string {
		p := chaosBadgerFiles(t, dir, ".mem")[0]
		if err := os.Truncate(p, chaosWalUsed(t, p)/2); err != nil {
			t.Fatal(err)
		}
		return filepath.Base(p)
	}},
	{name: "a byte flipped in the write-ahead log (.mem) after a crash", kill: true, apply: func(t *testing.T, dir string) string {
		p := chaosBadgerFiles(t, dir, ".mem")[0]
		chaosFlipByte(t, p, chaosWalUsed(t, p)*2/3)
		return filepath.Base(p)
	}},
	{name: "the MANIFEST truncated", apply: func(t *testing.T, dir string) string {
		p := filepath.Join(dir, "MANIFEST")
		if err := os.Truncate(p, chaosFileSize(p)/2); err != nil {
			t.Fatal(err)
		}
		return "MANIFEST"
	}},
}

// Store files damaged on disk between two runs of the app.
func TestChaosDamagedStore(t *testing.T) {
	t.Parallel()
	rep := newChaosReport(t, 4, "damage", "Store files damaged between runs",
		"An app writes about 65 events (users, tokens, a project), is stopped (or SIGKILLed, for "+
			"the write-ahead log cases) and one store file is damaged; then the app is started again "+
			"on it. Each damage must be detected at start and the app must serve read-only: health "+
			"`degraded` with the problem (once the background verification of the whole log a start "+
			"runs has ended: health says `verifying` until then, and writes wait for it), a write with "+
			"a token issued before answers 503 `read_only` with the reason, reads still answer 200 "+
			"(from the log, or from the views saved at the last clean stop when a damaged table keeps "+
			"the database from opening at all). It must never start writable over a damaged log, "+
			"crash or refuse to start, and `releasedesk events verify` must exit non-zero. Damages: "+func() string {
			var n []string
			for _, d := range chaosStoreDamages {
				n = append(n, d.name)
			}
			return strings.Join(n, "; ")
		}()+".")
	base := t.TempDir()
	for _, dmg := range chaosStoreDamages {
		ok := t.Run(dmg.name, func(t *testing.T) {
			data := filepath.Join(base, fmt.Sprintf("d%d", time.Now().UnixNano()))
			addUser(t, data, "root", chaosPassword, true)
			app := startApp(t, data)
			root := apitest.Login(t, app.URL, "root", chaosPassword)
			tok := root.Must(http.StatusCreated, "POST", "/api/v1/tokens", map[string]any{"name": "before"}).Body["token"].(string)
			for i := range 20 {
				name := fmt.Sprintf("user%02d", i)
				root.Must(http.StatusCreated, "POST", "/api/v1/users", map[string]any{"name": name, "password": chaosPassword})
				root.Must(http.StatusOK, "POST", "/api/v1/users/"+name+"/disable", map[string]any{"reason": "chaos"})
				root.Must(http.StatusOK, "POST", "/api/v1/users/"+name+"/enable", map[string]any{"reason": "chaos"})
			}
			head, hash, _ := chaosHead(app.URL)
			if dmg.kill {
				app.Kill()
			} else {
				app.Stop()
			}
			what := dmg.apply(t, filepath.Join(data, "events", "db"))
			t.Logf("damaged %s; head was %d %s", what, head, hash)
			verr := chaosVerifyCLI(t, data)
			outcome, why := chaosDamagedStart(t, data, tok)
			t.Logf("verify: %v; outcome %s; %s", verr, outcome, why)
			rep.note("%s: `events verify` %s; the app %s", dmg.name, chaosVerdict(verr), why)
			if verr == nil {
				t.Errorf("events verify passed a damaged store")
			}
			if outcome != "read-only" {
				t.Errorf("%s: %s", outcome, why)
			}
		})
		rep.trial(ok)
	}
}

func chaosVerdict(err error) string {
	if err == nil {
		return "passed (exit 0)"
	}
	return "refused: `" + chaosEssence(err.Error()) + "`"
}

// chaosEssence is the line of a command's output that says what is wrong: its
// "releasedesk: ..." line, else a panic's, else the first.
func chaosEssence(out string) string {
	code := ""
	if m := regexp.MustCompile(`exit status \d+`).FindString(out); m != "" {
		code = m + ": "
	}
	if i := strings.LastIndex(out, "releasedesk: "); i >= 0 {
		return code + chaosFirstLine(out[i:])
	}
	if i := strings.Index(out, "panic: "); i >= 0 {
		return code + chaosFirstLine(out[i:])
	}
	return code + chaosFirstLine(out)
}

// chaosAnswer is a apitest.Resp in a few words: status, and the error's code and message.
func chaosAnswer(r apitest.Resp) string {
	if e, ok := r.Body["error"].(map[string]any); ok {
		return fmt.Sprintf("%d %v (%s)", r.Status, e["code"], chaosFirstLine(fmt.Sprint(e["message"])))
	}
	return fmt.Sprint(r.Status)
}

func chaosFirstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// chaosDamagedStart starts serve on a damaged data directory and says what it
// did: "read-only" (degraded, writes refused, reads served), "refused" (exited
// with a message), "panic", "writable" (started as if nothing were wrong),
// or a failure of its own ("silent", "hang", "write taken").
func chaosDamagedStart(t *testing.T, data, token string) (outcome, why string) {
	t.Helper()
	cmd := exec.Command(sharedBinary(t), "serve", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "warning")
	out := &apitest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	deadline := time.Now().Add(30 * time.Second)
	var base string
	for base == "" && time.Now().Before(deadline) {
		select {
		case err := <-done:
			done <- err
			text := out.String()
			msg := chaosEssence(text)
			switch {
			case strings.TrimSpace(text) == "":
				return "silent", "exited without a word"
			case strings.Contains(text, "panic:"):
				return "panic", fmt.Sprintf("refused to start with a panic: `%s`", msg)
			}
			return "refused", fmt.Sprintf("refused to start: `%s`", msg)
		default:
		}
		if m := apitest.ServingLine.FindStringSubmatch(out.String()); m != nil {
			base = strings.TrimSuffix(m[1], "/")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if base == "" {
		return "hang", "neither served nor exited in 30 s"
	}
	c := &apitest.Caller{T: t, Client: httpapi.Client{Base: base, Token: token, HTTP: &http.Client{Timeout: 30 * time.Second}}}
	var h map[string]any
	for {
		h = nil
		if res, err := http.Get(base + "/api/v1/health"); err == nil {
			_ = json.NewDecoder(res.Body).Decode(&h)
			res.Body.Close()
		}
		if h["verifying"] != true || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	w, _ := c.Try("POST", "/api/v1/tokens", map[string]any{"name": "after"})
	r, _ := c.Try("GET", "/api/v1/users", nil)
	why = fmt.Sprintf("served with health `%v` (%v); a write answered %s; a read %d",
		h["status"], chaosFirstLine(fmt.Sprint(h["problem"])), chaosAnswer(w), r.Status)
	switch {
	case h["status"] != "degraded" || h["problem"] == "":
		return "writable", why
	case w.Status < 300:
		return "write taken", why
	}
	return "read-only", why
}

// chaosBug records an app bug; RD_CHAOS_STRICT=1 also fails the test.
func chaosBug(t *testing.T, rep *chaosReport, format string, args ...any) {
	t.Helper()
	rep.bug(format, args...)
	if os.Getenv("RD_CHAOS_STRICT") == "1" {
		t.Errorf("app bug: "+format, args...)
	} else {
		t.Logf("app bug (recorded, RD_CHAOS_STRICT=1 fails on it): "+format, args...)
	}
}
