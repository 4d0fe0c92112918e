// Package notify is about notifications: telling the people of a project,
// in their chat or mailbox and in their language, what happened and what
// waits for them.
//
// It holds the vocabulary and the rules of the channels a project's
// configuration lists under notify (DESIGN.md section 5): the kinds of
// channel, the triggers, the fields a message template may use, and one
// check per rule, which app/projectconfig calls with the field's path.
// Render makes a Message of a trigger (the channel's template, or the
// default of its language in templates/), and one builder per vendor
// writes it as that vendor's signed request, its text escaped for the
// target. Email is not HTTP: BuildMail writes a Message as a mail (text
// and HTML) and SendMail sends it through the channel's SMTP server;
// SendHTTP sends a vendor's request and CheckAnswer judges its answer
// (DingTalk and WeCom refuse with HTTP 200 and an errcode). Secrets are
// read at each attempt (ResolveSecret) and shown only as a Fingerprint.
// The outbox that follows the log (retries, rate limits) is app/outbox.
package notify
