// Package notifytest stands in for the places notifications go, in tests:
// a loopback HTTP receiver per chat vendor (DingTalk, WeCom, Feishu, Slack)
// and for the generic webhook, and an in-process SMTP server
// (emersion/go-smtp) for email.
//
// Each receiver checks a request as its vendor's documentation says the
// vendor checks it, recomputing the signature from the documented formula
// (on purpose not with app/notify's functions, which it would only agree
// with), refuses a wrong secret or a stale timestamp as the vendor does, and
// keeps what it accepted parsed as the vendor would show it: the title and
// text, whom it mentions, whether it calls on everyone, which addresses a
// person could click, the X-ReleaseDesk-Delivery header and when it came.
// A receiver can fail its first requests (HTTP 500) or start on a given
// address, to be down and then come up on the same port.
//
// Imported by tests only (app/notify's and app's). It imports nothing of
// app/notify, so app/notify's own tests can use it.
package notifytest
