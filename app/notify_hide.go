package app

import (
	"encoding/json"
	"net/url"
	"slices"

	"releasedesk/events/catalog"
	"releasedesk/projections"
)

// A channel's URL carries its robot's token: DingTalk's access_token and
// WeCom's key in its query, a Slack or Feishu hook's in its path. Whoever
// reads it can post to the team's chat as Release Desk. So only those who
// configure a project (admins) read its channels' URLs whole; everyone
// else sees where the messages go, the scheme and the host, and "..." for
// the rest.

// ProjectsFor lists the projects as viewer may read them.
func (d *Desk) ProjectsFor(viewer UserView) []projections.Project {
	list := d.Set.Projects.List()
	for i, pp := range list {
		if ok, _ := Can(viewer, pp.ID, ActionProjectConfigure); !ok {
			list[i].Config = configWithoutURLs(pp.Config)
		}
	}
	return list
}

// withoutChannelURLs is a project's configuration and read model with the
// channels' URLs hidden.
func withoutChannelURLs(p catalog.Project, pp projections.Project) (catalog.Project, projections.Project) {
	p.Notify = slices.Clone(p.Notify)
	for i := range p.Notify {
		p.Notify[i].URL = hiddenURL(p.Notify[i].URL)
	}
	pp.Config = configWithoutURLs(pp.Config)
	return p, pp
}

// hiddenURL is a URL's scheme and host, and "/..." for a path or query it
// had: "https://oapi.dingtalk.com/...".
func hiddenURL(raw string) string {
	if raw == "" {
		return ""
	}
	origin := urlOrigin(raw)
	if origin == "" {
		return "..."
	}
	if u, _ := url.Parse(raw); u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil {
		return origin
	}
	return origin + "/..."
}

// configWithoutURLs is a stored configuration (JSON) with each channel's
// url hidden. Every other value is kept as stored; a configuration that
// cannot be read shows as null rather than as itself.
func configWithoutURLs(raw json.RawMessage) json.RawMessage {
	var doc map[string]json.RawMessage
	if json.Unmarshal(raw, &doc) != nil {
		return nil
	}
	if _, ok := doc["notify"]; !ok {
		return raw
	}
	var channels []map[string]json.RawMessage
	if json.Unmarshal(doc["notify"], &channels) != nil {
		return nil
	}
	for _, ch := range channels {
		raw, ok := ch["url"]
		if !ok {
			continue
		}
		var u string
		if json.Unmarshal(raw, &u) != nil {
			delete(ch, "url") // not a URL as stored: nothing to show
			continue
		}
		ch["url"], _ = json.Marshal(hiddenURL(u))
	}
	var err error
	if doc["notify"], err = json.Marshal(channels); err != nil {
		return nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil
	}
	return out
}
