package httpapi_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
)

// TestLoginThrottledBySourceAddress: password spraying (one wrong password
// for each of many names) never locks an account, so failed logins are
// also counted per source address: past the burst, even a right password
// from that address waits, with 429 and Retry-After; time refills it.
func TestLoginThrottledBySourceAddress(t *testing.T) {
	clock := &settableClock{now: time.Now()}
	e := apitest.New(t, apitest.Options{NoRunner: true, Now: clock.Now})
	login := func(user, password string) apitest.Resp {
		return e.Call("POST", "/api/v1/login", "", map[string]string{"user": user, "password": password})
	}
	// Signing in right costs nothing.
	for range 30 {
		if r := login("root", apitest.RootPassword); r.Status != http.StatusOK {
			t.Fatalf("a right login: %d %s", r.Status, r.Raw)
		}
	}
	sprayed := 0
	for i := range 100 {
		r := login("user"+strconv.Itoa(i), "Winter2026!")
		if r.Status == http.StatusTooManyRequests {
			break
		}
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("spray %d: %d %s", i, r.Status, r.Raw)
		}
		sprayed++
	}
	if sprayed < 5 || sprayed > 30 {
		t.Fatalf("the address was held up after %d sprayed names", sprayed)
	}
	r := login("root", apitest.RootPassword)
	retry, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	if r.Status != http.StatusTooManyRequests || r.ErrCode() != "throttled" || retry < 1 || retry > 60 {
		t.Fatalf("a right password from a spraying address: %d Retry-After %q %s", r.Status, r.Header.Get("Retry-After"), r.Raw)
	}
	clock.Add(time.Duration(retry) * time.Second)
	if r := login("root", apitest.RootPassword); r.Status != http.StatusOK {
		t.Fatalf("after Retry-After: %d %s", r.Status, r.Raw)
	}
}
