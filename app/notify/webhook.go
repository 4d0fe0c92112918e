package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"releasedesk/events/text"
)

// The generic webhook's headers (docs/api.md, "Webhook signatures").
const (
	HeaderEvent     = "X-ReleaseDesk-Event"
	HeaderDelivery  = "X-ReleaseDesk-Delivery"
	HeaderTimestamp = "X-ReleaseDesk-Timestamp"
	HeaderSignature = "X-ReleaseDesk-Signature"
)

// DefaultWebhookTolerance is how far a receiver should accept a
// timestamp from its own clock: enough for a slow network and clocks a
// little apart, short enough that a captured request soon stops working.
const DefaultWebhookTolerance = 5 * time.Minute

var deliveryIDRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// BuildWebhook builds the generic webhook's request, our own documented
// scheme (docs/api.md): the body is the JSON of m.Event, and the headers
// say the event's type, the delivery's id (stable per event and channel,
// so a receiver drops a repeat), the time in unix seconds and the
// signature "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)),
// which covers the time so a captured request cannot be replayed later.
func BuildWebhook(m Message, channelURL, secret, deliveryID string, now time.Time) (Request, error) {
	if err := requireSecret(KindWebhook, secret); err != nil {
		return Request{}, err
	}
	if !deliveryIDRe.MatchString(deliveryID) {
		return Request{}, text.Errorf("delivery id %q: want 1 to 128 letters, digits, '.', '_', ':' or '-'", deliveryID)
	}
	if err := checkLink(m.Event.Link); err != nil {
		return Request{}, err
	}
	if m.Event.Type != TestTrigger { // an admin's test message, from the project page
		if err := CheckTrigger(m.Event.Type); err != nil {
			return Request{}, err
		}
	}
	u, err := parseChannelURL(channelURL)
	if err != nil {
		return Request{}, err
	}
	ev := m.Event
	ev.Time = ev.Time.UTC()
	data, err := json.Marshal(ev)
	if err != nil {
		return Request{}, err
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	r := jsonRequest(u.String(), data)
	r.Header.Set(HeaderEvent, ev.Type)
	r.Header.Set(HeaderDelivery, deliveryID)
	r.Header.Set(HeaderTimestamp, ts)
	r.Header.Set(HeaderSignature, WebhookSignature(secret, ts, data))
	return r, nil
}

// WebhookSignature is the value of X-ReleaseDesk-Signature:
// "sha256=" + hex(HMAC-SHA256(key = secret, message = timestamp + "." + body)).
func WebhookSignature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook is what a receiver of the generic webhook checks: the
// signature over the timestamp and the body exactly as received, and a
// timestamp within tolerance of now (either way: a clock ahead is as
// suspect as one behind). It compares in constant time.
func VerifyWebhook(secret, timestamp string, body []byte, signature string, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return requireSecret(KindWebhook, secret)
	}
	if !strings.HasPrefix(signature, "sha256=") {
		return text.Errorf("signature: want sha256=<hex>")
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return text.Errorf("timestamp %q: want unix seconds", timestamp)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > tolerance || age < -tolerance {
		return text.Errorf("timestamp %s is %s from now: at most %s", timestamp, age.Round(time.Second), tolerance)
	}
	if !hmac.Equal([]byte(signature), []byte(WebhookSignature(secret, timestamp, body))) {
		return text.Errorf("signature does not match")
	}
	return nil
}
