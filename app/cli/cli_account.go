package cli

import (
	"errors"
	"fmt"
	"net/http"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"releasedesk/app/httpapi"
)

// One's own account on a running server: personal tokens for scripts, and
// one's password.

func (c *cli) tokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		RunE:  groupRun,
		Short: "Create, list and revoke your personal tokens (for scripts) on a running server",
	}
	cmd.AddCommand(c.tokenCreateCommand(), c.tokenListCommand(), c.tokenRevokeCommand())
	return cmd
}

func (c *cli) tokenCreateCommand() *cobra.Command {
	var name string
	var days int
	var r *remote
	cmd := &cobra.Command{
		Use:   "create --name NAME [--days N]",
		Short: "Create a personal token and print it (shown this once)",
		Long: `Creates a personal token for scripts and prints it alone on standard output:
it is shown this once. It stays valid when your password changes, until it
expires (--days) or is revoked.`,
		Example: "  releasedesk token create --name ci --days 90 > ci.token",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required(cmd, "name"); err != nil {
				return err
			}
			if days < 0 {
				return usageError{fmt.Errorf("--days: want 0 (until revoked) or more, got %d", days)}
			}
			var out httpapi.TokenResponse
			raw, err := r.request(cmd.Context(), http.MethodPost, httpapi.Path("tokens"), nil,
				httpapi.TokenRequest{Name: name, TTLDays: days}, &out)
			if err != nil {
				return err
			}
			if r.asJSON {
				return r.printJSON(raw)
			}
			fmt.Fprintln(c.stdout, out.Token)
			return nil
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().StringVar(&name, "name", "", "what the token is for (shown in the list and the audit trail)")
	cmd.Flags().IntVar(&days, "days", 0, "days until it expires; 0: until revoked")
	return cmd
}

func (c *cli) tokenListCommand() *cobra.Command {
	var r *remote
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List your tokens: sessions and personal tokens, never their secrets",
		Example: "  releasedesk token list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var out httpapi.TokenList
			raw, err := r.request(cmd.Context(), http.MethodGet, httpapi.Path("tokens"), nil, nil, &out)
			if err != nil {
				return err
			}
			if r.asJSON {
				return r.printJSON(raw)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tNAME\tCREATED\tEXPIRES")
			for _, t := range out.Tokens {
				expires := "never"
				if !t.ExpiresAt.IsZero() {
					expires = t.ExpiresAt.UTC().Format("2006-01-02 15:04Z")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Kind, oneLine(t.Name), t.Created.UTC().Format("2006-01-02 15:04Z"), expires)
			}
			return tw.Flush()
		},
	}
	r = c.remoteFlags(cmd)
	return cmd
}

func (c *cli) tokenRevokeCommand() *cobra.Command {
	var r *remote
	cmd := &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke one of your tokens (a session signs out)",
		Example: "  releasedesk token revoke tk_0123456789abcdef",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := r.request(cmd.Context(), http.MethodDelete, httpapi.Path("tokens", args[0]), nil, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "revoked %s\n", args[0])
			return nil
		},
	}
	r = c.remoteFlags(cmd)
	return cmd
}

func (c *cli) passwordCommand() *cobra.Command {
	var r *remote
	cmd := &cobra.Command{
		Use:   "password",
		Short: "Change your password (current, then new, on standard input)",
		Long: `Reads your current password from the first line of standard input and the
new one from the second, and changes it. Every session of yours ends (sign
in again); personal tokens stay.`,
		Example: "  printf '%s\\n%s\\n' \"$OLD\" \"$NEW\" | releasedesk password",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			current, err := readSecretLine(c.stdin)
			if err != nil {
				return fmt.Errorf("reading the current password: %w", err)
			}
			next, err := readSecretLine(c.stdin)
			if err != nil {
				return fmt.Errorf("reading the new password: %w", err)
			}
			if current == "" || next == "" {
				return usageError{errors.New("standard input must hold two lines: the current password, then the new one")}
			}
			var me httpapi.MeResponse
			if _, err := r.request(cmd.Context(), http.MethodGet, httpapi.Path("me"), nil, nil, &me); err != nil {
				return err
			}
			if _, err := r.request(cmd.Context(), http.MethodPost, httpapi.Path("users", me.User.Name, "password"), nil,
				httpapi.PasswordRequest{Password: next, Current: current}, nil); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "password of %s changed; sign in again\n", me.User.Name)
			return nil
		},
	}
	r = c.remoteFlags(cmd)
	return cmd
}
