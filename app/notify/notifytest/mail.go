package notifytest

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// Mail is one message an SMTPServer accepted: the envelope, the data as
// it came, and the data parsed as a mail client reads it.
type Mail struct {
	From string
	To   []string
	Data []byte
	TLS  bool      // it came over TLS
	At   time.Time // when it was received
	// Delivery is its X-ReleaseDesk-Delivery header.
	Delivery string
	Parsed   ParsedMail
	// ParseErr says why the data does not read as Release Desk's mails
	// should (ParseMail); Parsed holds what could be read.
	ParseErr error
}

// ParsedMail is a mail read as a client reads it: the header, the subject
// decoded, the text and HTML alternatives decoded, the HTML's links.
type ParsedMail struct {
	Header     mail.Header
	Subject    string
	MessageID  string
	Text, HTML string
	// Links are the addresses of the HTML's href and src attributes.
	Links []string
}

var htmlLink = regexp.MustCompile(`(?i)\s(?:href|src)\s*=\s*"([^"]*)"`)

// ParseMail reads a mail as Release Desk writes one: a
// multipart/alternative of a text/plain and a text/html part, each UTF-8;
// anything else is an error.
func ParseMail(data []byte) (ParsedMail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return ParsedMail{}, fmt.Errorf("the message does not parse: %w", err)
	}
	p := ParsedMail{Header: msg.Header, MessageID: msg.Header.Get("Message-ID")}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return p, fmt.Errorf("the subject does not decode: %w", err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		return p, fmt.Errorf("Content-Type %q (%v): want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return p, err
		}
		body, err := io.ReadAll(part) // quoted-printable is decoded by the reader
		if err != nil {
			return p, err
		}
		ct, cp, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if !strings.EqualFold(cp["charset"], "utf-8") {
			return p, fmt.Errorf("part %s has charset %q, want UTF-8", ct, cp["charset"])
		}
		switch ct {
		case "text/plain":
			p.Text = string(body)
		case "text/html":
			p.HTML = string(body)
		default:
			return p, fmt.Errorf("unexpected part %s", ct)
		}
	}
	if p.Text == "" || p.HTML == "" {
		return p, fmt.Errorf("want a text/plain and a text/html part, got text %q html %q", p.Text, p.HTML)
	}
	for _, m := range htmlLink.FindAllStringSubmatch(p.HTML, -1) {
		p.Links = append(p.Links, m[1])
	}
	return p, nil
}
