package cli

import (
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"releasedesk/app/httpapi"
	"releasedesk/runner"
)

// hostsUnlockCommand breaks a stale host lock (admins). It exits 1 when a
// host could not be reached: its lock may still be there.
func (c *cli) hostsUnlockCommand() *cobra.Command {
	var project, env, reason string
	var all bool
	var r *remote
	cmd := &cobra.Command{
		Use:   "unlock (ADDR | --all) --project P --env E --reason R",
		Short: "Break a stale deploy lock on one host, or on every host of an environment (admins)",
		Long: `Removes the deploy lock a deployment that is no longer running left on a
host (a crash, or a Release Desk on another machine): a deployment's host
error "host ADDR is locked by deployment D" says which. ADDR is the host as
the environment configures it ("local" for the local strategy); --all
breaks the lock on every host of the environment. The break is recorded
(lock.broken, with the reason) before any host is touched, and frees the
environment's lock for the next deployment. Exits 1 when a host could not
be reached: its lock may still be there.`,
		Example: `  releasedesk hosts unlock www@10.0.1.2:22 --project shop --env production --reason "d7 died with the other desk"
  releasedesk hosts unlock --all --project shop --env production --reason "stale after the crash"`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case all && len(args) > 0:
				return usageError{fmt.Errorf("%s: give ADDR or --all, not both", cmd.CommandPath())}
			case all:
				return nil
			case len(args) == 0:
				return usageError{fmt.Errorf("%s needs ADDR (a host of the environment) or --all", cmd.CommandPath())}
			}
			return exactArgs("ADDR")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required(cmd, "project", "env", "reason"); err != nil {
				return err
			}
			host := ""
			if !all {
				host = args[0]
			}
			var res runner.LockBreak
			raw, err := r.request(cmd.Context(), http.MethodPost, httpapi.Path("projects", project, "environments", env, "unlock"),
				nil, httpapi.UnlockRequest{Host: host, Reason: reason}, &res)
			if err != nil {
				return err
			}
			if r.asJSON {
				if err := r.printJSON(raw); err != nil {
					return err
				}
			} else if err := c.printLockBreak(res); err != nil {
				return err
			}
			if n := len(res.Unreachable); n > 0 {
				return &exitError{code: ExitFailure, err: fmt.Errorf("%d of %d hosts of %s/%s could not be reached: their lock may still be there",
					n, n+len(res.Broken.Hosts), project, env)}
			}
			return nil
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "project id")
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit trail)")
	cmd.Flags().BoolVar(&all, "all", false, "every host of the environment")
	return cmd
}

// printLockBreak writes what was broken, host by host.
func (c *cli) printLockBreak(res runner.LockBreak) error {
	if b := res.Broken; b.Deployment != "" {
		fmt.Fprintf(c.stdout, "the lock of %s/%s held by deployment %s is broken\n", res.Project, res.Environment,
			terminalSafe(b.Deployment+lockHolder(b.Holder, b.Since)))
	} else {
		fmt.Fprintf(c.stdout, "the lock of %s/%s is broken (no deployment held it in the log)\n", res.Project, res.Environment)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tRESULT")
	for _, h := range res.Broken.Hosts {
		found := "no lock was there"
		if h.Deployment != "" {
			// What a host's lock file says is the host's text: escaped.
			found = "removed the lock of deployment " + terminalSafe(h.Deployment+lockHolder(h.Holder, h.Since))
		}
		fmt.Fprintf(tw, "%s\t%s\n", h.Host, found)
	}
	for _, h := range res.Unreachable {
		fmt.Fprintf(tw, "%s\tNOT REACHED: %s\n", h.Host, terminalSafe(oneLine(h.Error)))
	}
	return tw.Flush()
}

// lockHolder is " (alice, since 2026-11-26T09:58:00Z)", or less.
func lockHolder(holder string, since time.Time) string {
	switch {
	case holder != "" && !since.IsZero():
		return fmt.Sprintf(" (%s, since %s)", holder, since.UTC().Format(time.RFC3339))
	case holder != "":
		return " (" + holder + ")"
	case !since.IsZero():
		return " (since " + since.UTC().Format(time.RFC3339) + ")"
	}
	return ""
}
