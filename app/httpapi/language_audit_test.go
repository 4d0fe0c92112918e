package httpapi_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/events"
	"releasedesk/runner"
)

// auditPage is GET /api/v1/audit's rows, asked in lang ("" sends no
// Accept-Language).
func auditPage(t *testing.T, e *apitest.Env, token, lang string) []events.AuditRow {
	t.Helper()
	r := inLanguage(e, token, lang, "GET", "/api/v1/audit?oldest=true&limit=1000", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("audit in %q: %d %s", lang, r.Status, r.Raw)
	}
	var page struct {
		Total int               `json:"total"`
		Rows  []events.AuditRow `json:"rows"`
	}
	if err := json.Unmarshal(r.Raw, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Rows) != page.Total {
		t.Fatalf("audit in %q: %d rows of %d", lang, len(page.Rows), page.Total)
	}
	return page.Rows
}

// TestAuditSummariesInTheReadersLanguage: the audit listing writes each
// row's summary in the request's language: Chinese for zh-CN (the ids,
// names and people's words kept as they are), and for English or no
// language the English it always wrote, which is also what the CSV
// export keeps whatever the language.
func TestAuditSummariesInTheReadersLanguage(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	target := t.TempDir()
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, target))
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	tess := e.AddUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	alice := e.AddUser(root, "alice", false, map[string][]string{"shop": {"approver"}})

	// A release deployed to test twice, passed and approved; test rolled
	// back to the first version; a stale lock broken.
	id := apitest.Str(e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "New checkout"}).Body, "release", "id")
	var deps []string
	for _, v := range []string{"v2\n", "v3\n"} {
		apitest.GitCommit(t, repo, "feature-1", map[string]string{"index.html": v}, "change index.html")
		dep := apitest.Str(e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", dev,
			map[string]string{"env": "test"}).Body, "deployment")
		if got := e.WaitDeployment(dev, dep, time.Minute); got["state"] != "succeeded" {
			t.Fatalf("deploy to test: %v", got)
		}
		deps = append(deps, dep)
	}
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", tess, map[string]any{"passed": true, "note": "checkout works"})
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/approve", alice, map[string]any{"note": "looks good"})
	first := apitest.Str(e.Must(http.StatusOK, "GET", "/api/v1/deployments/"+deps[0], dev, nil).Body, "version")
	if first == "" {
		t.Fatal("the first deployment has no version")
	}
	back := apitest.Str(e.Must(http.StatusAccepted, "POST", "/api/v1/projects/shop/environments/test/rollback", dev,
		map[string]string{"version": first, "reason": "the cart is empty"}).Body, "deployment")
	if got := e.WaitDeployment(dev, back, time.Minute); got["state"] != "succeeded" {
		t.Fatalf("rollback: %v", got)
	}
	if err := os.MkdirAll(runner.Layout{Path: target + "/shop-test"}.LockDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	e.Must(http.StatusOK, "POST", "/api/v1/projects/shop/environments/test/unlock", root,
		map[string]string{"host": "local", "reason": "left by a crash"})

	none, english, chinese := auditPage(t, e, root, ""), auditPage(t, e, root, "en"), auditPage(t, e, root, "zh-CN")
	if len(english) != len(none) || len(chinese) != len(none) {
		t.Fatalf("rows: %d without a language, %d in English, %d in Chinese", len(none), len(english), len(chinese))
	}

	// English is the English of before: the CSV export's summary, the
	// same in every language of the request.
	exported := map[string]string{}
	for _, lang := range []string{"", "zh-CN"} {
		r := inLanguage(e, root, lang, "GET", "/api/v1/audit/export?format=csv", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("CSV export in %q: %d %s", lang, r.Status, r.Raw)
		}
		recs, err := csv.NewReader(bytes.NewReader(r.Raw)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs[1:] {
			if was, ok := exported[rec[0]]; ok && was != rec[10] {
				t.Fatalf("CSV export, position %s: %q without a language, %q asked in Chinese", rec[0], was, rec[10])
			}
			exported[rec[0]] = rec[10]
		}
	}
	byAction := map[string]events.AuditRow{}
	for i, row := range english {
		if row.Summary != none[i].Summary {
			t.Errorf("position %d: %q in English, %q without a language", row.Position, row.Summary, none[i].Summary)
		}
		if want := exported[jsonNumber(row.Position)]; row.Summary != want {
			t.Errorf("position %d: %q in the listing, %q in the CSV export", row.Position, row.Summary, want)
		}
		byAction[row.Action] = row
	}
	approved := byAction["release.approved"]
	sha7 := approved.Commit[:7]
	for action, want := range map[string]string{
		"release.opened":     "dev opened release " + id + " of shop on feature-1: New checkout",
		"release.approved":   "alice approved release " + id + " on test at " + sha7 + ": looks good",
		"rollback.requested": "dev rolled shop/test back to " + first + ": the cart is empty",
		"lock.broken":        "root broke the lock of shop/test on host local: left by a crash",
	} {
		if got := byAction[action].Summary; got != want {
			t.Errorf("%s in English: %q, want %q", action, got, want)
		}
	}

	// Chinese: every summary renders, those of the workflow in Chinese
	// with their ids and people's words as they were.
	zh := map[string]string{}
	for i, row := range chinese {
		if row.Position != english[i].Position || row.Action != english[i].Action || row.Release != english[i].Release {
			t.Fatalf("row %d: the language changed more than the summary: %+v, %+v", i, row, english[i])
		}
		if row.Summary == "" || strings.Contains(row.Summary, "%!") {
			t.Errorf("position %d (%s): the Chinese summary %q", row.Position, row.Action, row.Summary)
		}
		zh[row.Action] = row.Summary
	}
	for action, want := range map[string]string{
		"release.opened":      "dev 在 shop 的分支 feature-1 上创建了发布单 " + id + "：New checkout",
		"release.test_passed": "tess 确认发布单 " + id + " 测试通过，环境 test，提交 " + sha7 + "：checkout works",
		"release.approved":    "alice 审批通过了发布单 " + id + "，环境 test，提交 " + sha7 + "：looks good",
		"rollback.requested":  "dev 将 shop/test 回滚到 " + first + "：the cart is empty",
		"lock.broken":         "root 解除了 shop/test 的部署锁（主机 local）：left by a crash",
	} {
		if got := zh[action]; got != want {
			t.Errorf("%s in Chinese: %q, want %q", action, got, want)
		}
	}
	// A deployment's end: Chinese words around the English ids, hosts
	// and duration.
	for _, action := range []string{"deploy.succeeded", "deploy.requested", "deploy.host_switched", "user.created", "project.configured"} {
		got, en := zh[action], byAction[action].Summary
		if !hasHan(got) || got == en {
			t.Errorf("%s: %q is not Chinese (English %q)", action, got, en)
		}
	}
	if got := zh["deploy.succeeded"]; !strings.HasPrefix(got, "回滚 "+back+"（"+first+" 到 shop/test）成功，涉及 1 台主机，耗时 ") {
		t.Errorf("deploy.succeeded in Chinese: %q", got)
	}
}

func jsonNumber(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
