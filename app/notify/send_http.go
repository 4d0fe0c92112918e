package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"

	"releasedesk/events/text"
)

// DeliveryHeader carries the delivery's id on every request (the generic
// webhook documents it; the chat vendors ignore it), so any receiver can
// drop a message it already took.
const DeliveryHeader = "X-ReleaseDesk-Delivery"

// maxAnswer is how much of an answer is read: the excerpt and the
// vendor's errcode are at its start.
const maxAnswer = 16 << 10

// SendHTTP sends a built request and judges the answer by the channel's
// kind (CheckAnswer). Its error never holds the request's URL, which
// carries the robot's token (net/http's errors quote it).
func SendHTTP(ctx context.Context, client *http.Client, kind string, r Request, deliveryID string) (Outcome, error) {
	req, err := r.HTTP(ctx)
	if err != nil {
		return Outcome{}, text.Errorf("the request cannot be made: %v", withoutURL(err))
	}
	req.Header.Set(DeliveryHeader, deliveryID)
	req.Header.Set("User-Agent", "ReleaseDesk")
	resp, err := client.Do(req)
	if err != nil {
		return Outcome{}, text.Errorf("no answer from %s: %v", req.URL.Host, withoutURL(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	out := Outcome{Status: resp.StatusCode, Excerpt: Excerpt(body), RetryAfter: RetryAfter(resp.Header)}
	return out, CheckAnswer(kind, resp.StatusCode, body)
}

// withoutURL is err without the URL net/http puts in front of it.
func withoutURL(err error) error {
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
