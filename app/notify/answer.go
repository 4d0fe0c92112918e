package notify

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"releasedesk/events/text"
)

// Outcome is what a receiver answered one attempt: what the delivery
// records, whether it was taken or not.
type Outcome struct {
	// Status is the HTTP status, or the SMTP reply code; 0 when no
	// answer came (the connection failed).
	Status int
	// Excerpt is the start of the answer's body, for a person to read.
	Excerpt string
	// RetryAfter is how long the receiver asked to be left alone (HTTP
	// 429's Retry-After); 0 when it did not say.
	RetryAfter time.Duration
}

// MaxExcerpt bounds the answer kept per attempt: enough for a vendor's
// error message, little in the log.
const MaxExcerpt = 200

// Excerpt is the start of an answer as one line of at most MaxExcerpt
// bytes, control characters dropped, cut at a character boundary.
func Excerpt(body []byte) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r) || r == utf8.RuneError:
			return -1
		}
		return r
	}, string(body))
	s = strings.TrimSpace(s)
	if len(s) <= MaxExcerpt {
		return s
	}
	cut := MaxExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// CheckAnswer says whether a vendor took a message: some answer HTTP 200
// and put their refusal in the body (DingTalk and WeCom an errcode, Feishu
// a code), so the status alone does not tell.
func CheckAnswer(kind string, status int, body []byte) error {
	if status < 200 || status > 299 {
		return text.Errorf("the receiver answered HTTP %d", status)
	}
	switch kind {
	case KindDingTalk, KindWeCom:
		var a struct {
			ErrCode *int   `json:"errcode"`
			ErrMsg  string `json:"errmsg"`
		}
		if json.Unmarshal(body, &a) != nil || a.ErrCode == nil {
			return text.Errorf("the receiver's answer is not the robot's: want {\"errcode\": 0}")
		}
		if *a.ErrCode != 0 {
			return text.Errorf("the robot refused the message: errcode %d", *a.ErrCode)
		}
	case KindFeishu:
		var a struct {
			Code       *int `json:"code"`
			StatusCode *int `json:"StatusCode"` // the older answer's
		}
		if json.Unmarshal(body, &a) != nil || (a.Code == nil && a.StatusCode == nil) {
			return text.Errorf("the receiver's answer is not the bot's: want {\"code\": 0}")
		}
		if a.Code != nil && *a.Code != 0 {
			return text.Errorf("the bot refused the message: code %d", *a.Code)
		}
		if a.Code == nil && *a.StatusCode != 0 {
			return text.Errorf("the bot refused the message: code %d", *a.StatusCode)
		}
	case KindSlack:
		if strings.TrimSpace(string(body)) != "ok" {
			return text.Errorf("Slack did not answer ok")
		}
	}
	return nil
}

// RetryAfter reads an HTTP answer's Retry-After in seconds (the form
// vendors use); 0 when absent or another form.
func RetryAfter(h http.Header) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || s <= 0 {
		return 0
	}
	return min(time.Duration(s)*time.Second, time.Hour)
}
