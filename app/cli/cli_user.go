package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"releasedesk/app"
	"releasedesk/app/httpapi"
	"releasedesk/events"
)

func (c *cli) userCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		RunE:  groupRun,
		Short: "Manage users without a server (the first admin)",
	}
	var name string
	var admin, fromStdin bool
	var roleFlags []string
	add := &cobra.Command{
		Use:   "add --name NAME [--admin] [--role project=role,...] [--password-stdin]",
		Short: "Create a user directly in the data directory or the PostgreSQL store (the first admin)",
		Long: `Creates a user in the log, as the system: this is how the first admin comes
to be. Without --password-stdin a strong password is generated and printed
once. In a data directory, the server must not be running on it (it owns
it); with a server, add users through it instead. On a PostgreSQL store
(--store postgres://...) the user and its password hash go into the
database, and may be added while the server's instances run.`,
		Example: `  releasedesk user add --name root --admin
  printf '%s\n' "$PASSWORD" | releasedesk user add --name dev --role shop=developer --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required(cmd, "name"); err != nil {
				return err
			}
			roles, err := parseRoles(roleFlags)
			if err != nil {
				return err
			}
			password, generated := "", false
			if fromStdin {
				if password, err = readSecretLine(c.stdin); err != nil {
					return fmt.Errorf("reading the password: %w", err)
				}
			} else {
				password, generated = app.NewPassword(), true
			}
			if c.store != "" {
				if err := c.addUserOnPostgres(cmd.Context(), name, password, admin, roles); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "user %s created%s\n", name, grantText(admin, roles))
				if generated {
					fmt.Fprintf(c.stdout, "password: %s\n(shown once: keep it now)\n", password)
				}
				return nil
			}
			data := app.DataDir{Path: c.dataDir}
			store, problem, err := data.OpenLog(c.logger, false)
			if err != nil {
				if errors.Is(err, events.ErrLocked) {
					return fmt.Errorf("%w\n(stop that server first, or add the user through it: the Users screen or POST /api/v1/users)", err)
				}
				return err
			}
			defer store.Close()
			if problem != nil {
				return fmt.Errorf("the event log is damaged, no user can be added: %w", problem)
			}
			if err := app.BootstrapUserRoles(cmd.Context(), store, data.CredentialsPath(), name, password, admin, roles); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "user %s created%s\n", name, grantText(admin, roles))
			if generated {
				fmt.Fprintf(c.stdout, "password: %s\n(shown once: keep it now)\n", password)
			}
			return nil
		},
	}
	add.Flags().StringVar(&name, "name", "", "the user name (lower-case letters, digits, . _ -)")
	add.Flags().BoolVar(&admin, "admin", false, "make the user an admin (may do everything)")
	add.Flags().StringSliceVar(&roleFlags, "role", nil, "project=role, repeated or comma-separated (developer, tester, approver, manager)")
	add.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	cmd.AddCommand(add)
	return cmd
}

// parseRoles reads project=role pairs into a grant.
func parseRoles(pairs []string) (map[string][]string, error) {
	roles := map[string][]string{}
	for _, p := range pairs {
		project, role, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || project == "" || role == "" {
			return nil, usageError{fmt.Errorf("--role %q: want project=role, e.g. shop=developer", p)}
		}
		roles[project] = append(roles[project], role)
	}
	return roles, nil
}

func grantText(admin bool, roles map[string][]string) string {
	var parts []string
	if admin {
		parts = append(parts, "admin")
	}
	for p, rs := range roles {
		parts = append(parts, p+": "+strings.Join(rs, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func (c *cli) loginCommand() *cobra.Command {
	var user string
	var r *remote
	cmd := &cobra.Command{
		Use:   "login --user NAME",
		Short: "Sign in to a running server and print a session token (password from standard input)",
		Long: `Reads the password from the first line of standard input, signs in, and
prints the session token alone on standard output, for scripts:

  export ` + envToken + `=$(releasedesk login --user dev < dev.password)`,
		Example: "  printf '%s\\n' \"$PASSWORD\" | releasedesk login --user dev",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required(cmd, "user"); err != nil {
				return err
			}
			password, err := readSecretLine(c.stdin)
			if err != nil {
				return fmt.Errorf("reading the password: %w", err)
			}
			var out httpapi.LoginResponse
			raw, err := r.request(cmd.Context(), http.MethodPost, httpapi.Path("login"), nil,
				httpapi.LoginRequest{User: user, Password: password}, &out)
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
	cmd.Flags().StringVar(&user, "user", "", "the user name")
	return cmd
}

// addUserOnPostgres creates a user in the log and the credentials of a
// server on PostgreSQL.
func (c *cli) addUserOnPostgres(ctx context.Context, name, password string, admin bool, roles map[string][]string) error {
	store, err := app.OpenPostgresLog(ctx, c.store, c.logger)
	if err != nil {
		return err
	}
	defer store.Close()
	creds, err := app.OpenStateCredentials(ctx, store)
	if err != nil {
		return err
	}
	return app.BootstrapUserIn(ctx, store, creds, name, password, admin, roles)
}
