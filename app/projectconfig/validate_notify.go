package projectconfig

import (
	"slices"

	"releasedesk/app/notify"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/runner"
)

// Validation of language and notify: each rule is app/notify's, called
// here with the field's path.

func validateNotify(errs *Errors, p catalog.Project) {
	add := errs.add
	if err := notify.CheckLanguage(p.Language); err != nil {
		add("language", text.Of(err))
	}
	names := map[string]int{}
	for i, c := range p.Notify {
		path := indexPath("notify", i)
		if err := notify.CheckName(c.Name); err != nil {
			add(path+".name", text.Of(err))
		} else if j, dup := names[c.Name]; dup {
			add(path+".name", text.New("duplicate channel %q (also notify[%d])", c.Name, j))
		} else {
			names[c.Name] = i
		}
		kindOK := true
		if err := notify.CheckKind(c.Kind); err != nil {
			add(path+".kind", text.Of(err))
			kindOK = false
		}
		switch {
		case !c.URLFrom.IsZero() && c.Kind == notify.KindEmail:
			add(path+".url_from", text.New("email has no URL: its server goes in email.host"))
		case !c.URLFrom.IsZero() && c.URL != "":
			add(path+".url_from", text.New("set url or url_from, not both"))
		case !c.URLFrom.IsZero():
			// Read and checked at each message: it is not here to check.
			validateSecretRef(errs, c.URLFrom, path+".url_from")
		case kindOK:
			if err := notify.CheckURL(c.Kind, c.URL); err != nil {
				add(path+".url", text.Of(err))
			}
		}
		if kindOK {
			if err := notify.CheckSecretRequired(c.Kind, !c.Secret.IsZero()); err != nil {
				add(path+".secret", text.Of(err))
			}
		}
		if !c.Secret.IsZero() {
			validateSecretRef(errs, c.Secret, path+".secret")
		}
		validateTriggers(errs, c, path)
		seen := map[string]int{}
		for j, e := range c.Environments {
			epath := indexPath(path+".environments", j)
			if _, ok := p.Environment(e); !ok {
				add(epath, text.New("project %s has no environment %q", p.ID, e))
			} else if k, dup := seen[e]; dup {
				add(epath, text.New("%q is listed twice (also %s.environments[%d])", e, path, k))
			} else {
				seen[e] = j
			}
		}
		if err := notify.CheckLanguage(c.Language); err != nil {
			add(path+".language", text.Of(err))
		}
		if kindOK {
			validateEmail(errs, c, path)
		}
	}
}

func validateTriggers(errs *Errors, c catalog.Channel, path string) {
	add := errs.add
	if len(c.Events) == 0 {
		add(path+".events", text.New("at least one trigger is required"))
	}
	seen := map[string]int{}
	for j, e := range c.Events {
		epath := indexPath(path+".events", j)
		if err := notify.CheckTrigger(e); err != nil {
			add(epath, text.Of(err))
		} else if k, dup := seen[e]; dup {
			add(epath, text.New("%q is listed twice (also %s.events[%d])", e, path, k))
		} else {
			seen[e] = j
		}
	}
	// In the triggers' order, so that the problems come in a stable order.
	keys := make([]string, 0, len(c.Templates))
	for k := range c.Templates {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareTriggers)
	for _, k := range keys {
		tpath := fieldPath(path+".templates", k)
		if err := notify.CheckTrigger(k); err != nil {
			add(tpath, text.Of(err))
		} else if err := notify.CheckTemplate(c.Templates[k]); err != nil {
			add(tpath, text.Of(err))
		}
	}
}

// compareTriggers orders triggers as notify.Triggers lists them, unknown
// ones last, by name.
func compareTriggers(a, b string) int {
	ia, ib := slices.Index(notify.Triggers, a), slices.Index(notify.Triggers, b)
	if ia < 0 {
		ia = len(notify.Triggers)
	}
	if ib < 0 {
		ib = len(notify.Triggers)
	}
	if ia != ib {
		return ia - ib
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func validateSecretRef(errs *Errors, s catalog.SecretRef, path string) {
	add := errs.add
	if s.FromFile != "" && s.FromEnv != "" {
		add(path, text.New("set exactly one of from_file, from_env"))
		return
	}
	if s.FromFile != "" {
		if err := runner.ValidatePath(s.FromFile); err != nil {
			add(path+".from_file", runnerReason(err))
		}
	}
	if s.FromEnv != "" && runner.CheckEnvVarName(s.FromEnv) != nil {
		add(path+".from_env", text.New("%q: want the name of a variable of the app's environment", s.FromEnv))
	}
}

func validateEmail(errs *Errors, c catalog.Channel, path string) {
	add := errs.add
	e := c.Email
	path += ".email"
	if c.Kind != notify.KindEmail {
		if !isZeroEmail(e) {
			add(path, text.New("only for kind email"))
		}
		return
	}
	if err := notify.CheckEmailHost(e.Host); err != nil {
		add(path+".host", text.Of(err))
	}
	if err := notify.CheckEmailPort(e.Port); err != nil {
		add(path+".port", text.Of(err))
	}
	if err := notify.CheckEmailSecurity(e.Security, e.Host); err != nil {
		add(path+".security", text.Of(err))
	}
	if msg := checkOneLine(e.User); !msg.IsZero() {
		add(path+".user", msg)
	}
	if !e.Password.IsZero() {
		validateSecretRef(errs, e.Password, path+".password")
	}
	if err := notify.CheckEmailFrom(e.From); err != nil {
		add(path+".from", text.Of(err))
	}
	if len(e.To) == 0 {
		add(path+".to", text.New("at least one recipient is required"))
	}
	for j, to := range e.To {
		if err := notify.CheckRecipient(to); err != nil {
			add(indexPath(path+".to", j), text.Of(err))
		}
	}
}

func isZeroEmail(e catalog.EmailSettings) bool {
	return e.Host == "" && e.Port == 0 && e.Security == "" && e.User == "" &&
		e.Password.IsZero() && e.From == "" && len(e.To) == 0
}
