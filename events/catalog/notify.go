package catalog

// Notification channels of a project's configuration (DESIGN.md section 5,
// "notify"), as events carry them. app/notify holds their vocabulary and
// rules; app/projectconfig reads, validates, writes and diffs them. A
// secret never travels here: only where to read it at delivery time.

// Channel is one place a project's messages go: a chat robot, a webhook or
// a mailbox, for the triggers it lists.
type Channel struct {
	Name string `json:"name"`
	Kind string `json:"kind"`          // dingtalk | wecom | feishu | slack | webhook | email
	URL  string `json:"url,omitempty"` // the robot's or webhook's URL; not for email
	// URLFrom says where the URL is read at each message instead, for a
	// URL that is itself the secret (a WeCom robot's key, a Slack
	// webhook's path, a DingTalk robot's token): never in the log then.
	URLFrom SecretRef `json:"url_from,omitzero"`
	Secret  SecretRef `json:"secret,omitzero"` // signing secret (dingtalk, feishu, webhook)
	Events  []string  `json:"events"`          // the triggers sent to this channel
	// Environments limits the channel to these of the project's
	// environments (for triggers about one); empty: all.
	Environments []string `json:"environments,omitempty"`
	// Language of the messages (zh-CN | en); empty: the project's.
	Language string `json:"language,omitempty"`
	// Templates overrides the text of a trigger's message: trigger to a Go
	// text/template over app/notify's TemplateData.
	Templates map[string]string `json:"templates,omitempty"`
	Email     EmailSettings     `json:"email,omitzero"` // kind email only
}

// SecretRef says where a secret is read when it is needed: a file on this
// machine, or a variable of the app's environment. Exactly one is set.
type SecretRef struct {
	FromFile string `json:"from_file,omitempty"`
	FromEnv  string `json:"from_env,omitempty"`
}

// IsZero reports whether the reference names no secret.
func (s SecretRef) IsZero() bool { return s.FromFile == "" && s.FromEnv == "" }

// EmailSettings are an email channel's SMTP server and recipients.
type EmailSettings struct {
	Host     string    `json:"host,omitempty"`
	Port     int       `json:"port,omitempty"`     // 0: 587, or 465 for tls
	Security string    `json:"security,omitempty"` // starttls | tls | none; empty: starttls
	User     string    `json:"user,omitempty"`
	Password SecretRef `json:"password,omitzero"`
	From     string    `json:"from,omitempty"`
	// To are the recipients: "role:approver" (the project's people of a
	// role), "user:alice" (a user's address) or an address.
	To []string `json:"to,omitempty"`
}
