package cli

import (
	"fmt"
	"net/http"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"releasedesk/app/httpapi"
	"releasedesk/events/catalog"
)

// hostsDriftCommand reads what each host of an environment runs now. It
// exits 1 when a host drifted or could not be read, so a cron job can
// watch an environment.
func (c *cli) hostsDriftCommand() *cobra.Command {
	var project, env string
	var r *remote
	cmd := &cobra.Command{
		Use:   "drift --project P --env E",
		Short: "Check what each host of an environment runs against what Release Desk recorded",
		Long: `Reads each host's current release and compares it with the version Release
Desk recorded there; the check is recorded (drift.checked) and shown on the
dashboard. Exits 1 when a host runs another version or could not be read.`,
		Example: "  releasedesk hosts drift --project shop --env production",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required(cmd, "project", "env"); err != nil {
				return err
			}
			var rep catalog.DriftReport
			raw, err := r.request(cmd.Context(), http.MethodPost, httpapi.Path("projects", project, "environments", env, "drift"),
				nil, struct{}{}, &rep)
			if err != nil {
				return err
			}
			if r.asJSON {
				if err := r.printJSON(raw); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "HOST\tRECORDED\tRUNNING\tRESULT")
				for _, h := range rep.Hosts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.Host, orDash(h.Expected), orDash(h.Actual), driftResult(h))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			bad := 0
			for _, h := range rep.Hosts {
				if h.Drifted || h.Error != "" {
					bad++
				}
			}
			if bad > 0 {
				return &exitError{code: ExitFailure, err: fmt.Errorf("%d of %d hosts of %s/%s drifted or could not be read", bad, len(rep.Hosts), project, env)}
			}
			return nil
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "project id")
	cmd.Flags().StringVar(&env, "env", "", "environment")
	return cmd
}

func driftResult(h catalog.HostDrift) string {
	switch {
	case h.Error != "":
		return "unreadable: " + oneLine(h.Error)
	case h.Drifted:
		return "DRIFTED"
	}
	return "ok"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
