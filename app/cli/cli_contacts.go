package cli

import (
	"fmt"
	"net/http"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"releasedesk/app"
	"releasedesk/app/httpapi"
)

// contactHandles are the flags of `contacts`, in the order they print.
var contactHandles = []string{"email", "mobile", "feishu", "slack"}

// contactsCommand shows or sets the handles notifications reach a user by:
// one's own, or (admins) anyone's with --user.
func (c *cli) contactsCommand() *cobra.Command {
	var user string
	var in httpapi.ContactsRequest
	var r *remote
	cmd := &cobra.Command{
		Use:   "contacts [--user NAME] [--email E] [--mobile M] [--feishu F] [--slack S]",
		Short: "Show or set your contact handles for notifications (admins: anyone's with --user)",
		Long: `Without a handle flag, prints the contact handles notifications reach you
(or --user) by. With any, sets those given and keeps the others; an empty
value clears one. Only the user themself and admins see or set them.`,
		Example: "  releasedesk contacts --email ann@example.com --mobile +8613800138000\n" +
			"  releasedesk contacts --user ann --slack U012AB3CD\n" +
			"  releasedesk contacts --slack ''",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if user == "" {
				var me httpapi.MeResponse
				if _, err := r.request(cmd.Context(), http.MethodGet, httpapi.Path("me"), nil, nil, &me); err != nil {
					return err
				}
				user = me.User.Name
			}
			var cur app.UserView
			raw, err := r.request(cmd.Context(), http.MethodGet, httpapi.Path("users", user), nil, nil, &cur)
			if err != nil {
				return err
			}
			if set := c.changedHandles(cmd); len(set) > 0 {
				// The route takes all four: those not given keep their value.
				next := httpapi.ContactsRequest{}
				if cur.Contacts != nil {
					next = httpapi.ContactsRequest(*cur.Contacts)
				}
				for _, h := range set {
					*handleOf(&next, h) = *handleOf(&in, h)
				}
				cur = app.UserView{}
				if raw, err = r.request(cmd.Context(), http.MethodPut, httpapi.Path("users", user, "contacts"), nil, next, &cur); err != nil {
					return err
				}
			}
			if r.asJSON {
				return r.printJSON(raw)
			}
			return c.printContacts(cur)
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().StringVar(&user, "user", "", "whose handles (default: yours; another's needs the admin role)")
	cmd.Flags().StringVar(&in.Email, "email", "", "email address")
	cmd.Flags().StringVar(&in.Mobile, "mobile", "", "mobile number, digits with an optional leading + (DingTalk and WeCom @mentions)")
	cmd.Flags().StringVar(&in.Feishu, "feishu", "", "Feishu open id (ou_...), user id or email")
	cmd.Flags().StringVar(&in.Slack, "slack", "", "Slack member id, such as U012AB3CD")
	return cmd
}

// changedHandles are the handle flags given on the command line (an empty
// value given counts: it clears).
func (c *cli) changedHandles(cmd *cobra.Command) []string {
	var out []string
	for _, h := range contactHandles {
		if cmd.Flags().Changed(h) {
			out = append(out, h)
		}
	}
	return out
}

func handleOf(r *httpapi.ContactsRequest, h string) *string {
	switch h {
	case "email":
		return &r.Email
	case "mobile":
		return &r.Mobile
	case "feishu":
		return &r.Feishu
	}
	return &r.Slack
}

// printContacts prints one handle a line, "-" for none.
func (c *cli) printContacts(u app.UserView) error {
	var cur httpapi.ContactsRequest
	if u.Contacts != nil {
		cur = httpapi.ContactsRequest(*u.Contacts)
	}
	fmt.Fprintf(c.stdout, "contacts of %s\n", u.Name)
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	for _, h := range contactHandles {
		v := *handleOf(&cur, h)
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\n", h, oneLine(v))
	}
	return tw.Flush()
}
