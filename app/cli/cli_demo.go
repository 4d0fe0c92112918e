package cli

import (
	"errors"
	"fmt"

	"releasedesk/app"

	"github.com/spf13/cobra"
)

func (c *cli) demoCommand() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Set up a ready demo: a git repository, a project with local targets, one user per role",
		Long: `Makes, in the data directory, a demo a newcomer can walk through at once:
a git repository of a tiny static site (demo/shop.git), the project "shop"
publishing it to two local targets (test, and production which needs
approval) under demo/hosts, one open release, and the users admin, dev
(developer), tess (tester), alice (approver) and max (manager), whose
generated passwords are printed once and kept in demo/passwords.txt
(readable by you alone).

Running it again on a data directory with the demo changes nothing. A data
directory with users or projects of its own is refused.

On a PostgreSQL store (--store postgres://..., with --secret-key-file) the
users, the project and the release go into the database; the repository,
the targets and the passwords file stay in the data directory's demo/, on
this machine, so serve the demo from this machine.`,
		Example: `  releasedesk demo && releasedesk serve
  releasedesk demo --data ./demo-data`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := c.deskConfig(cmd)
			if err != nil {
				return err
			}
			demo, err := app.SetupDemoOn(cmd.Context(), cfg)
			if quiet && errors.Is(err, app.ErrNotFresh) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			if demo.Already {
				if !quiet {
					fmt.Fprintf(c.stdout, "The demo is already set up in %s; its passwords are in %s\n", c.dataDir, demo.Passwords)
				}
				return nil
			}
			fmt.Fprintf(c.stdout, "Demo ready in %s:\n", c.dataDir)
			fmt.Fprintf(c.stdout, "  project %s, repository %s\n", app.DemoProject, demo.Repo)
			fmt.Fprintf(c.stdout, "  release %s is open on branch %s\n", demo.Release, app.DemoBranch)
			fmt.Fprintln(c.stdout, "  users (these passwords are shown once; they are also in "+demo.Passwords+"):")
			for _, u := range demo.Users {
				fmt.Fprintf(c.stdout, "    %-6s %-9s %s\n", u.Name, u.Role, u.Password)
			}
			fmt.Fprintln(c.stdout, "Start the app (releasedesk, or releasedesk serve) and sign in as dev to deploy the release to test.")
			return nil
		},
	}
	c.secretKeyFlag(cmd)
	cmd.Flags().BoolVar(&quiet, "quiet", false, "say nothing when the demo is already there, or when the data directory "+
		"is in use without it (make run)")
	return cmd
}
