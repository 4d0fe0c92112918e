package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
)

// The window's live updates: every event applied after the start reaches
// emit, in order, with no gap, while the API writes.
func TestFollowChangesForTheWindow(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	start := e.Desk.Set.Position()

	var mu sync.Mutex
	var got []httpapi.StreamMessage
	kinds := map[string]int{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- httpapi.FollowChanges(ctx, e.Desk, func(kind string, m httpapi.StreamMessage) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, m)
			kinds[kind]++
		})
	}()
	for i := range 20 {
		e.Must(http.StatusCreated, "POST", "/api/v1/tokens", root, map[string]any{"name": "script-" + strconv.Itoa(i)})
	}
	head := e.Desk.Log.Head().Position
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
		t.Fatalf("FollowChanges: %v", err)
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
