package app

import (
	"slices"
	"strings"

	"releasedesk/app/notify"
	"releasedesk/projections"
)

// peopleFor are the users a message calls on: the project's people of the
// role that must act (approvers for an approval, testers for a test,
// managers for an acceptance), and the requesters of what failed. A
// disabled account is told nothing.
func (d *Desk) peopleFor(project string, occ occurrence) []projections.User {
	var out []projections.User
	seen := map[string]bool{}
	add := func(u projections.User) {
		if !u.Disabled && !seen[u.Name] {
			seen[u.Name] = true
			out = append(out, u)
		}
	}
	if occ.callOn != "" {
		for _, u := range d.Set.Users.List() {
			if slices.Contains(u.Roles[project], occ.callOn) {
				add(u)
			}
		}
	}
	for _, name := range occ.requesters {
		if u, ok := d.Set.Users.Get(name); ok {
			add(u)
		}
	}
	return out
}

// mentionsFor are the handles a kind of channel calls people by, from
// their contacts; someone without one is named in the text only.
func mentionsFor(kind string, people []projections.User) (notify.Mentions, []string) {
	var m notify.Mentions
	var names []string
	for _, u := range people {
		c := u.Contacts
		switch kind {
		case notify.KindDingTalk, notify.KindWeCom:
			if c.Mobile != "" {
				m.Mobiles = append(m.Mobiles, c.Mobile)
			}
		case notify.KindFeishu:
			// "all" is not a person: Feishu's at element with it calls on
			// the whole group, so the builder refuses it, and once that
			// refusal lost the whole message (for everyone it called on)
			// to anyone who wrote "all" as their Feishu id. Named in the
			// text only, as without a handle.
			if c.Feishu != "" && notify.IsFeishuID(c.Feishu) && !strings.EqualFold(c.Feishu, "all") {
				m.FeishuUserIDs = append(m.FeishuUserIDs, c.Feishu)
			}
		case notify.KindSlack:
			if c.Slack != "" {
				m.SlackMemberIDs = append(m.SlackMemberIDs, c.Slack)
			}
		}
		names = append(names, "@"+u.Name)
	}
	return m, names
}

// emailRecipients resolves an email channel's addressees: "role:<role>"
// (the project's people of that role with an address), "user:<name>" or
// an address. It returns the addresses and the users they are.
func (d *Desk) emailRecipients(project string, to []string) (addrs, users []string) {
	seen := map[string]bool{}
	add := func(addr, user string) {
		if addr != "" && !seen[addr] {
			seen[addr] = true
			addrs = append(addrs, addr)
			if user != "" {
				users = append(users, user)
			}
		}
	}
	all := d.Set.Users.List()
	for _, r := range to {
		switch {
		case len(r) > 5 && r[:5] == "role:":
			for _, u := range all {
				if !u.Disabled && slices.Contains(u.Roles[project], r[5:]) {
					add(u.Contacts.Email, u.Name)
				}
			}
		case len(r) > 5 && r[:5] == "user:":
			if u, ok := d.Set.Users.Get(r[5:]); ok && !u.Disabled {
				add(u.Contacts.Email, u.Name)
			}
		default:
			add(r, "")
		}
	}
	return addrs, users
}
