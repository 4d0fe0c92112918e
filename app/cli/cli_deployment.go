package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"releasedesk/app/httpapi"
	"releasedesk/projections"
)

// deploymentCommand groups what a person does with deployments: list them,
// look at one, cancel one under way, retry the failed hosts of one.
func (c *cli) deploymentCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deployment",
		RunE:  groupRun,
		Short: "List, show, cancel and retry deployments on a running server",
	}
	cmd.AddCommand(c.deploymentListCommand(), c.deploymentShowCommand(), c.deploymentCancelCommand(), c.deploymentRetryCommand())
	return cmd
}

func (c *cli) deploymentListCommand() *cobra.Command {
	var project, env, state, release, by, kind string
	var limit int
	var r *remote
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List deployments and rollbacks, newest first",
		Example: "  releasedesk deployment list --project shop --env production --state failed,interrupted\n  releasedesk deployment list --requested-by alice --kind rollback",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usageError{fmt.Errorf("--limit: want a non-negative number, got %d", limit)}
			}
			q := url.Values{}
			for k, v := range map[string]string{"project": project, "env": env, "state": state, "release": release,
				"requested_by": by, "kind": kind} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			var out httpapi.DeploymentList
			raw, err := r.request(cmd.Context(), http.MethodGet, httpapi.Path("deployments"), q, nil, &out)
			if err != nil {
				return err
			}
			if r.asJSON {
				return r.printJSON(raw)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tSTATE\tPROJECT\tENV\tVERSION\tRELEASE\tBY\tREQUESTED")
			for _, d := range out.Deployments {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Kind, d.State, d.Project, d.Environment,
					d.Version, d.Release, d.RequestedBy, d.Requested.UTC().Format("2006-01-02 15:04:05Z"))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if out.Total > len(out.Deployments) {
				fmt.Fprintf(c.stdout, "(%d of %d shown)\n", len(out.Deployments), out.Total)
			}
			return nil
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "only this project")
	cmd.Flags().StringVar(&env, "env", "", "only this environment")
	cmd.Flags().StringVar(&state, "state", "", "only these states, comma-separated (queued, running, succeeded, failed, cancelled, interrupted)")
	cmd.Flags().StringVar(&release, "release", "", "only this release's")
	cmd.Flags().StringVar(&by, "requested-by", "", "only those this user asked for")
	cmd.Flags().StringVar(&kind, "kind", "", "only this kind: deploy or rollback")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (default 50)")
	return cmd
}

func (c *cli) deploymentShowCommand() *cobra.Command {
	var wait bool
	var r *remote
	cmd := &cobra.Command{
		Use:     "show ID",
		Short:   "Show a deployment: its state, each host's result and its steps",
		Example: "  releasedesk deployment show d12 --wait",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if wait {
				return r.follow(cmd.Context(), args[0])
			}
			var dep projections.Deployment
			raw, err := r.request(cmd.Context(), http.MethodGet, httpapi.Path("deployments", args[0]), nil, nil, &dep)
			if err != nil {
				return err
			}
			if r.asJSON {
				return r.printJSON(raw)
			}
			c.printDeployment(dep, true)
			return nil
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().BoolVar(&wait, "wait", false, "follow it until it ends; exit 1 if it did not succeed")
	return cmd
}

func (c *cli) deploymentCancelCommand() *cobra.Command {
	var reason string
	var r *remote
	cmd := &cobra.Command{
		Use:     "cancel ID",
		Short:   "Cancel a deployment under way: hosts not yet switched are not touched",
		Example: "  releasedesk deployment cancel d12 --reason 'wrong commit'",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usageError{fmt.Errorf("--reason is required: say why it is cancelled")}
			}
			var dep projections.Deployment
			raw, err := r.request(cmd.Context(), http.MethodPost, httpapi.Path("deployments", args[0], "cancel"), nil,
				httpapi.ReasonRequest{Reason: reason}, &dep)
			if err != nil {
				return err
			}
			if r.asJSON {
				return r.printJSON(raw)
			}
			fmt.Fprintf(c.stdout, "cancel of %s asked (it is %s)\n", dep.ID, dep.State)
			return nil
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit trail)")
	return cmd
}

func (c *cli) deploymentRetryCommand() *cobra.Command {
	var wait bool
	var r *remote
	cmd := &cobra.Command{
		Use:     "retry ID",
		Short:   "Retry a failed or interrupted deployment on the hosts it did not finish",
		Example: "  releasedesk deployment retry d12 --wait",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var dep projections.Deployment
			raw, err := r.request(cmd.Context(), http.MethodPost, httpapi.Path("deployments", args[0], "retry"), nil, struct{}{}, &dep)
			if err != nil {
				return err
			}
			if r.asJSON && !wait {
				return r.printJSON(raw)
			}
			fmt.Fprintf(c.stdout, "retrying %s (it is %s)\n", dep.ID, dep.State)
			if wait {
				return r.follow(cmd.Context(), dep.ID)
			}
			return nil
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().BoolVar(&wait, "wait", false, "follow it until it ends; exit 1 if it did not succeed")
	return cmd
}
