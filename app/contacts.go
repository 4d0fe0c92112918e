package app

import (
	"context"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// Contacts are the handles a notification reaches a person by, as the API
// shows them (the same fields as the vocabulary's catalog.Contacts). Empty
// means none.
type Contacts struct {
	Email  string `json:"email"`  // an email address
	Mobile string `json:"mobile"` // for DingTalk and WeCom @mentions
	Feishu string `json:"feishu"` // an open id (ou_...), a user id or an email
	Slack  string `json:"slack"`  // a member id such as U012AB3CD
}

// The lengths of handles accepted: an email address's limit (RFC 5321's
// path), a generous bound on a Feishu id, a phone number's digits with
// room for a country code.
const (
	maxEmailLen  = 254
	maxFeishuLen = 128
	minMobileLen = 6
	maxMobileLen = 20
	maxSlackLen  = 21 // U or W and at most 20 more
)

var (
	// mobileRe: what DingTalk's atMobiles and WeCom's mentioned_mobile_list
	// take, digits with an optional country prefix.
	mobileRe = regexp.MustCompile(`^\+?[0-9]+$`)
	// slackRe: a Slack member id (U...; W... in Enterprise Grid), what
	// <@U012AB3CD> mentions.
	slackRe = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)
)

// SetContacts records a user's contact handles, all four at once (an empty
// one is cleared): one's own, or anyone's for an admin. Each handle is
// checked on its own and the first bad one is named; contacts equal to the
// recorded ones record nothing.
func (a *Auth) SetContacts(ctx context.Context, actor, name string, c Contacts) error {
	if actor != name {
		if err := a.mayManage(actor); err != nil {
			return err
		}
	}
	if err := checkContacts(c); err != nil {
		return err
	}
	defer a.lockUser(name)()
	u, err := a.getUser(name)
	if err != nil {
		return err
	}
	if Contacts(u.Contacts) == c {
		return nil
	}
	evs, err := newEvents(actor, catalog.TypeUserContactsSet, catalog.UserContactsSet{Name: name, Contacts: catalog.Contacts(c)})
	if err != nil {
		return err
	}
	return a.appendUser(ctx, name, evs...)
}

// checkContacts refuses the first handle that no vendor would take,
// naming it as contacts.<handle>.
func checkContacts(c Contacts) error {
	for _, h := range []struct {
		field, value string
		check        func(string) text.Text
	}{
		{"contacts.email", c.Email, checkEmail},
		{"contacts.mobile", c.Mobile, checkMobile},
		{"contacts.feishu", c.Feishu, checkFeishu},
		{"contacts.slack", c.Slack, checkSlack},
	} {
		if h.value == "" {
			continue
		}
		if reason := h.check(h.value); !reason.IsZero() {
			return &InvalidError{Field: h.field, Reason: reason}
		}
	}
	return nil
}

// checkEmail takes a bare address (no display name, no angle brackets).
func checkEmail(s string) text.Text {
	if n := utf8.RuneCountInString(s); n > maxEmailLen {
		return text.New("%d characters: at most %d", n, maxEmailLen)
	}
	if hasSpaceOrControl(s) {
		return text.New("holds a space or a control character")
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Name != "" || a.Address != s {
		return text.New("%q is not an email address such as name@example.com", s)
	}
	return text.Text{}
}

func checkMobile(s string) text.Text {
	if n := utf8.RuneCountInString(s); n > maxMobileLen {
		return text.New("%d characters: at most %d", n, maxMobileLen)
	}
	if !mobileRe.MatchString(s) || len(s) < minMobileLen {
		return text.New("%q is not a mobile number: want 6 to 20 characters, digits with an optional leading +", s)
	}
	return text.Text{}
}

// checkFeishu takes an open id (ou_...), a user id or an email address:
// Feishu mentions by either id, and the desk can look an email up.
func checkFeishu(s string) text.Text {
	if n := utf8.RuneCountInString(s); n > maxFeishuLen {
		return text.New("%d characters: at most %d", n, maxFeishuLen)
	}
	if hasSpaceOrControl(s) {
		return text.New("holds a space or a control character")
	}
	if strings.EqualFold(s, "all") {
		// Feishu's id for everyone in the group: a person is not that.
		return text.New("\"all\" mentions everyone in a Feishu group: give your own open id or user id")
	}
	return text.Text{}
}

func checkSlack(s string) text.Text {
	if n := utf8.RuneCountInString(s); n > maxSlackLen {
		return text.New("%d characters: at most %d", n, maxSlackLen)
	}
	if !slackRe.MatchString(s) {
		return text.New("%q is not a Slack member id: want U or W, then 2 to 20 capital letters or digits, such as U012AB3CD", s)
	}
	return text.Text{}
}

func hasSpaceOrControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
	})
}

// ContactsFor is v as viewer may see it: contact handles are personal, so
// only the user themself and those who manage users see them.
func ContactsFor(viewer, v UserView) UserView {
	if viewer.Name == v.Name {
		return v
	}
	if ok, _ := Can(viewer, "", ActionUserManage); ok {
		return v
	}
	v.Contacts = nil
	return v
}
