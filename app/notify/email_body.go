package notify

import (
	"html/template"
	"net/mail"
	"strings"

	"releasedesk/events/text"
)

// Mail is one email, built but not sent: what BuildMail makes of a
// Message and SendMail hands to the server. Like Request, it is pure data,
// so a test (or a dry run) sees exactly what would go.
type Mail struct {
	From    string   // "Name <address>" or an address
	To      []string // addresses, the channel's roles and users already resolved
	Subject string   // one line, the message's title
	Text    string   // the plain text body
	HTML    string   // the same words as HTML, the alternative a mail client shows
	// MessageID is "<id@domain>", the same for every attempt of one
	// delivery, so a receiving system that saw it drops a repeat.
	MessageID string
	// Headers are the other header fields, by name (X-ReleaseDesk-Delivery,
	// Auto-Submitted).
	Headers map[string]string
}

// maxSubjectBytes bounds the subject: a title is one short line, but a
// channel's template may write a long one, and a subject is a line in a
// list of mails.
const maxSubjectBytes = 400

// messageIDDomain is the right side of a Message-ID when Release Desk's
// own host name is unknown or is not a name.
const messageIDDomain = "releasedesk"

// BuildMail makes the email of a message: the title as the subject, a
// plain text body (the title, the lines, then "words: link") and the same
// as HTML, every word escaped and the message's link its only link (http
// or https, checked as for every vendor). deliveryID (stable per event
// and channel) makes the Message-ID <deliveryID@host> and the header
// X-ReleaseDesk-Delivery, so a repeat of the delivery is recognizable;
// host is Release Desk's own host name ("": releasedesk). to are
// addresses: the channel's role: and user: entries are resolved before.
func BuildMail(m Message, from string, to []string, deliveryID string, host string) (Mail, error) {
	if err := CheckEmailFrom(from); err != nil {
		return Mail{}, err
	}
	if err := checkRecipients(to); err != nil {
		return Mail{}, err
	}
	if !deliveryIDRe.MatchString(deliveryID) {
		return Mail{}, text.Errorf("delivery id %q: want 1 to 128 letters, digits, '.', '_', ':' or '-'", deliveryID)
	}
	if err := checkLink(m.Link); err != nil {
		return Mail{}, err
	}
	// A mail client links a bare address in any text, as the chats do:
	// the message's own link is the only address written whole.
	m.Title = unlinked(m.Title)
	m.Lines = unlinkedLines(m.Lines)
	subject := mailSubject(m.Title)
	if subject == "" {
		return Mail{}, text.Errorf("the message has no title: an email needs a subject")
	}
	html, err := mailHTML(m, subject)
	if err != nil {
		return Mail{}, err
	}
	return Mail{
		From: from, To: append([]string(nil), to...), Subject: subject,
		Text: mailText(m, subject), HTML: html,
		MessageID: messageID(deliveryID, host),
		Headers: map[string]string{
			HeaderDelivery: deliveryID,
			// RFC 3834: an out-of-office reply to a robot helps no one.
			"Auto-Submitted": "auto-generated",
		},
	}, nil
}

// checkRecipients refuses an email to nobody, and a recipient that is not
// an address (a role: or user: entry the caller did not resolve).
func checkRecipients(to []string) error {
	if len(to) == 0 {
		return text.Errorf("no recipient: an email needs at least one address")
	}
	for _, r := range to {
		if _, err := mail.ParseAddress(r); err != nil {
			return text.Errorf("recipient %q is not an email address (role: and user: are resolved before sending)", r)
		}
	}
	return nil
}

var addressNeutral = strings.NewReplacer("://", "：//")

// unlinked writes an address's "://" as "：//", which reads the same and
// no client takes for an address.
func unlinked(s string) string { return addressNeutral.Replace(s) }

func unlinkedLines(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = unlinked(l)
	}
	return out
}

// mailSubject is the title as one line: control characters and line
// breaks (which could start another header) become spaces, runs of
// spaces one.
func mailSubject(title string) string {
	return truncateBytes(strings.Join(strings.Fields(oneLine(title)), " "), maxSubjectBytes)
}

// mailText is the plain text body: the title, a blank line, the lines,
// and the link after a blank line. Plain text needs no escaping, but a
// control character still becomes a space: a mail is read in terminals
// too.
func mailText(m Message, subject string) string {
	var b strings.Builder
	b.WriteString(subject + "\n")
	if len(m.Lines) > 0 {
		b.WriteString("\n")
	}
	for _, l := range m.Lines {
		b.WriteString(strings.TrimRight(oneLine(l), " ") + "\n")
	}
	if m.Link != "" {
		b.WriteString("\n")
		if m.LinkText != "" {
			b.WriteString(oneLine(m.LinkText) + ": ")
		}
		b.WriteString(cleanURL(m.Link) + "\n")
	}
	return b.String()
}

// mailHTMLTemplate is the HTML body. html/template escapes every value
// for where it stands, so a title "<script>" is text and the only href
// is the link (which checkLink already limited to http and https).
var mailHTMLTemplate = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5">
<h2 style="font-size: 18px; margin: 0 0 12px">{{.Title}}</h2>
{{range .Lines}}<p style="margin: 0 0 8px; white-space: pre-wrap">{{.}}</p>
{{end}}{{if .Link}}<p style="margin: 16px 0 0"><a href="{{.Link}}">{{.LinkText}}</a></p>
{{end}}</body>
</html>
`))

func mailHTML(m Message, subject string) (string, error) {
	lines := make([]string, len(m.Lines))
	for i, l := range m.Lines {
		lines[i] = strings.TrimRight(oneLine(l), " ")
	}
	data := struct {
		Lang, Title    string
		Lines          []string
		Link, LinkText string
	}{Lang: m.Language, Title: subject, Lines: lines}
	if m.Link != "" {
		data.Link, data.LinkText = cleanURL(m.Link), oneLine(linkText(m))
	}
	if data.Lang == "" {
		data.Lang = Languages[0]
	}
	var b strings.Builder
	if err := mailHTMLTemplate.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// messageIDLocal writes a delivery id as the left side of a Message-ID:
// ':' may not stand there and '.' only between other characters, so both
// are written =XX ('=' is never in a delivery id, so two ids never meet).
var messageIDLocal = strings.NewReplacer(":", "=3A", ".", "=2E")

// messageID is <deliveryID@host>, host Release Desk's own name when it is
// a name (or an IPv4 address), else releasedesk.
func messageID(deliveryID, host string) string {
	domain := strings.ToLower(host)
	if !hostNameRe.MatchString(domain) || strings.Contains(domain, "..") || strings.HasSuffix(domain, ".") {
		domain = messageIDDomain
	}
	return "<" + messageIDLocal.Replace(deliveryID) + "@" + domain + ">"
}
