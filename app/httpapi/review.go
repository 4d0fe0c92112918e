package httpapi

import (
	"fmt"
	"net/http"
	"sync"

	"releasedesk/app"
	"releasedesk/events/text"
)

// Offline review (`releasedesk open FILE`, `serve --archive`) has no
// accounts: whoever holds the file may read all of it. But the page that
// reads it is a web page on a loopback port, which any other page the
// reviewer visits could reach. So the server makes a secret at start and
// prints it in the review URL's fragment (never sent in a request line,
// never logged); the page exchanges it once for a read-only session.
//
// The rule: the secret mints one session, and is spent by it. A second
// exchange is refused, so a secret seen later (a screen share, a shell's
// scroll-back) opens nothing. The session lasts as long as the process;
// a reviewer who lost the tab runs `releasedesk open` again.

// reviewGate holds the review secret and the session it minted.
type reviewGate struct {
	mu      sync.Mutex
	secret  string // "" once spent
	session string // "" until minted
}

func newReviewGate() *reviewGate { return &reviewGate{secret: newSecret("rdv_")} }

// errReviewLocked is every route's answer in offline review without the
// session: where to get in, without a hint of what the archive holds.
var errReviewLocked = refusal(http.StatusUnauthorized, "review_secret_required",
	text.New("this desk serves an archive for offline review: open the link that `releasedesk open` printed (it works once)"))

// exchange spends the secret for the session.
func (g *reviewGate) exchange(secret string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.secret == "":
		return "", refusal(http.StatusUnauthorized, "review_secret_spent",
			text.New("this review link was used already; run `releasedesk open` again for a new one"))
	case !sameSecret(secret, g.secret):
		return "", refusal(http.StatusUnauthorized, "review_secret_wrong",
			text.New("secret: not this review's; open the link that `releasedesk open` printed"))
	}
	g.secret = ""
	g.session = newSecret("rdr_")
	return g.session, nil
}

// admits reports whether a bearer header carries the review session.
func (g *reviewGate) admits(bearer string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.session != "" && sameSecret(app.BearerToken(bearer), g.session)
}

// reviewLocked reports whether r may not read the archive this server
// reviews: it carries no review session and does not come from the
// desktop window (`open --window`), which no other page can reach. A
// server of a data directory is never locked.
func (s *Server) reviewLocked(r *http.Request, bearer string) bool {
	return s.review != nil && !s.review.admits(bearer) && !fromWindow(r)
}

// ReviewURL is where a reviewer opens the archive this server serves
// (base is the server's URL); "" unless it serves one.
func (s *Server) ReviewURL(base string) string {
	if s.review == nil {
		return ""
	}
	s.review.mu.Lock()
	defer s.review.mu.Unlock()
	return fmt.Sprintf("%s/#/review/%s", base, s.review.secret)
}

// ReviewRequest is POST /api/v1/review: the secret of the review URL.
type ReviewRequest struct {
	Secret string `json:"secret"`
}

// ReviewResponse is the read-only session the secret was exchanged for,
// sent as a bearer token like a login's.
type ReviewResponse struct {
	Token string `json:"token"`
}

func (s *Server) startReview(w http.ResponseWriter, r *http.Request, _ app.UserView) error {
	if s.review == nil {
		return errNotFound(text.New("this desk serves no archive: sign in instead"))
	}
	var in ReviewRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	if in.Secret == "" {
		return &app.InvalidError{Field: "secret", Reason: text.New("is required")}
	}
	token, err := s.review.exchange(in.Secret)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ReviewResponse{Token: token})
	return nil
}
