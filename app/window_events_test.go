package app

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

// The window's live updates: every event applied after the start reaches
// emit, in order, with no gap, while the API writes.
func TestFollowChangesForTheWindow(t *testing.T) {
	e := newAPIEnv(t, apiOptions{noRunner: true})
	root := e.login("root", rootPassword)
	start := e.desk.Set.Position()

	var mu sync.Mutex
	var got []streamMessage
	kinds := map[string]int{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- followChanges(ctx, e.desk, func(kind string, m streamMessage) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, m)
			kinds[kind]++
		})
	}()
	for i := range 20 {
		e.must(http.StatusCreated, "POST", "/api/v1/tokens", root, map[string]any{"name": "script-" + itoa(i)})
	}
	head := e.desk.Log.Head().Position
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if uint64(n) >= head-start || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("followChanges: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if uint64(len(got)) != head-start {
		t.Fatalf("got %d messages, want %d (positions %d..%d)", len(got), head-start, start+1, head)
	}
	for i, m := range got {
		if m.Position != start+1+uint64(i) {
			t.Fatalf("message %d has position %d, want %d", i, m.Position, start+1+uint64(i))
		}
	}
	if kinds["user"] != len(got) {
		t.Fatalf("token events should all be of kind user: %v", kinds)
	}
}
