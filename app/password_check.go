package app

import (
	"context"
	"releasedesk/events/text"
)

// CheckPassword tells whether password is name's current password: a
// person changing their own password proves they know it, so a stolen
// session token alone cannot take over the account. A wrong password is an
// *UnauthorizedError (it is not a failed login: no event, no lock-out).
func (a *Auth) CheckPassword(ctx context.Context, name, password string) error {
	phc, ok := a.Creds.passwordHash(name)
	if !ok {
		return &UnauthorizedError{Reason: text.New("user %s has no password set", name)}
	}
	match, err := verifyPassword(ctx, a.argonHook, password, phc)
	if err != nil {
		return err
	}
	if !match {
		return &InvalidError{Field: "current_password", Reason: text.New("is not your current password")}
	}
	return nil
}
