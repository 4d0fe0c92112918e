package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"releasedesk/app"
	"releasedesk/app/httpapi"
	"releasedesk/projections"
)

// releaseCommand groups the verbs of a release's life (DESIGN.md section 3).
func (c *cli) releaseCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release",
		RunE:  groupRun,
		Short: "Open, deploy, test, approve, accept and complete releases on a running server",
		Long: `Each verb asks a running Release Desk (--server, default ` + defaultServer + `,
or env ` + envServer + `) as the user whose token is in env ` + envToken + `
(get one with: releasedesk login --user NAME). The server decides; a refusal
exits 1 with its message and the rule that refused.`,
	}
	cmd.AddCommand(c.releaseOpenCommand(), c.releaseListCommand(), c.releaseShowCommand(), c.releaseDeployCommand(),
		c.releaseTestCommand(),
		c.releaseDecisionCommand("approve", "note", "Approve the tested commit of a release (approvers; not your own release)",
			"releasedesk release approve 7 --note \"checked the changelog\""),
		c.releaseDecisionCommand("reject", "reason", "Reject a release: it goes back to the developers",
			"releasedesk release reject 7 --reason \"the banner is misspelled\""),
		c.releaseDecisionCommand("accept", "note", "Accept a release live on the last stage (managers)",
			"releasedesk release accept 7 --note \"sales are fine\""),
		c.releaseRefuseCommand(),
		c.releaseDecisionCommand("cancel", "reason", "Cancel a release that is not completed",
			"releasedesk release cancel 7 --reason \"replaced by release 8\""),
		c.releaseCompleteCommand())
	return cmd
}

func (c *cli) releaseOpenCommand() *cobra.Command {
	var in app.OpenReleaseInput
	var r *remote
	cmd := &cobra.Command{
		Use:   "open --project P --branch B --title T",
		Short: "Open a release of a branch (--create-branch makes it from the mainline)",
		Example: `  releasedesk release open --project shop --branch spring-sale --create-branch \
      --title "Spring sale banner" --note "for March 1"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required(cmd, "project", "branch", "title"); err != nil {
				return err
			}
			var out httpapi.ReleaseResponse
			raw, err := r.request(cmd.Context(), http.MethodPost, httpapi.Path("releases"), nil, in, &out)
			if err != nil {
				return err
			}
			if r.asJSON {
				return r.printJSON(raw)
			}
			rel := out.Release
			fmt.Fprintf(c.stdout, "release %s opened: %s, branch %s, %q (%s)\n", rel.ID, rel.Project, rel.Branch, rel.Title, rel.State)
			return nil
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().StringVar(&in.Project, "project", "", "project id")
	cmd.Flags().StringVar(&in.Branch, "branch", "", "the release's branch")
	cmd.Flags().BoolVar(&in.CreateBranch, "create-branch", false, "create the branch from the mainline first")
	cmd.Flags().StringVar(&in.Title, "title", "", "a short title")
	cmd.Flags().StringVar(&in.Note, "note", "", "a note for the others")
	return cmd
}

func (c *cli) releaseListCommand() *cobra.Command {
	var project, state string
	var r *remote
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List releases (the board), newest first",
		Example: "  releasedesk release list --project shop --state open,testing",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if project != "" {
				q.Set("project", project)
			}
			if state != "" {
				q.Set("state", state)
			}
			var out struct {
				Total    int                   `json:"total"`
				Releases []projections.Release `json:"releases"`
			}
			raw, err := r.request(cmd.Context(), http.MethodGet, httpapi.Path("releases"), q, nil, &out)
			if err != nil {
				return err
			}
			if r.asJSON {
				return r.printJSON(raw)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tPROJECT\tBRANCH\tREQUESTER\tTITLE")
			for _, rel := range out.Releases {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", rel.ID, rel.State, rel.Project, rel.Branch, rel.Requester, oneLine(rel.Title))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if out.Total > len(out.Releases) {
				fmt.Fprintf(c.stdout, "(%d of %d shown)\n", len(out.Releases), out.Total)
			}
			return nil
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "only this project")
	cmd.Flags().StringVar(&state, "state", "", "only these states, comma-separated (open, testing, tested, approved, live, accepted, completed, cancelled)")
	return cmd
}

func (c *cli) releaseShowCommand() *cobra.Command {
	var r *remote
	cmd := &cobra.Command{
		Use:     "show ID",
		Short:   "Show a release: its state, commits, deployments and timeline",
		Example: "  releasedesk release show 7",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out httpapi.ReleaseResponse
			raw, err := r.request(cmd.Context(), http.MethodGet, httpapi.Path("releases", args[0]), nil, nil, &out)
			if err != nil {
				return err
			}
			if r.asJSON {
				return r.printJSON(raw)
			}
			c.printRelease(out, true)
			return nil
		},
	}
	r = c.remoteFlags(cmd)
	return cmd
}

// printRelease shows a release; full adds its deployments and timeline.
func (c *cli) printRelease(out httpapi.ReleaseResponse, full bool) {
	rel := out.Release
	w := tabwriter.NewWriter(c.stdout, 0, 4, 1, ' ', 0)
	fmt.Fprintf(w, "release %s\t%s\n", rel.ID, oneLine(rel.Title))
	fmt.Fprintf(w, "project:\t%s\n", rel.Project)
	fmt.Fprintf(w, "branch:\t%s\n", rel.Branch)
	fmt.Fprintf(w, "state:\t%s\n", rel.State)
	fmt.Fprintf(w, "requester:\t%s\n", rel.Requester)
	for _, kv := range [][2]string{{"pinned:", commitOn(rel.PinnedCommit, rel.PinnedEnv)},
		{"tested:", commitOn(rel.TestedCommit, rel.TestedEnv)}, {"approved:", short(rel.ApprovedCommit)},
		{"tester:", rel.Tester}, {"approver:", rel.Approver}, {"manager:", rel.Manager}, {"tag:", rel.Tag}} {
		if kv[1] != "" {
			fmt.Fprintf(w, "%s\t%s\n", kv[0], kv[1])
		}
	}
	_ = w.Flush()
	if !full {
		return
	}
	if len(rel.Deployments) > 0 {
		fmt.Fprintln(c.stdout, "deployments:")
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		for _, d := range rel.Deployments {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", d.Environment, d.Deployment, d.Version, d.State)
		}
		_ = tw.Flush()
	}
	if len(out.Timeline) > 0 {
		fmt.Fprintln(c.stdout, "timeline:")
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		for _, t := range out.Timeline {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.Time.Local().Format("2006-01-02 15:04:05"), t.Actor, t.Action, oneLine(t.Note))
		}
		_ = tw.Flush()
	}
	if len(out.Actions) > 0 {
		fmt.Fprintf(c.stdout, "you may: %s\n", strings.Join(out.Actions, ", "))
	}
}

func (c *cli) releaseDeployCommand() *cobra.Command {
	var env string
	var wait bool
	var r *remote
	cmd := &cobra.Command{
		Use:   "deploy ID --env E",
		Short: "Deploy a release to an environment (--wait follows it to the end)",
		Long: `Asks for a deployment of the release to the environment. A test stage takes
the branch head (pinned now); a stage that needs approval only the approved
commit. With --wait, follows the deployment until it ends, prints each
host's result, and exits 1 if it did not succeed.`,
		Example: "  releasedesk release deploy 7 --env test --wait",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required(cmd, "env"); err != nil {
				return err
			}
			var res app.DeployResult
			raw, err := r.request(cmd.Context(), http.MethodPost, httpapi.Path("releases", args[0], "deploy"), nil,
				httpapi.DeployRequest{Env: env}, &res)
			if err != nil {
				return err
			}
			return r.deployed(cmd.Context(), raw, res, wait)
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().StringVar(&env, "env", "", "the environment (stage) to deploy to")
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the deployment until it ends; exit 1 if it failed")
	return cmd
}

// deployed reports an accepted deployment, and follows it with wait.
func (r *remote) deployed(ctx context.Context, raw []byte, res app.DeployResult, wait bool) error {
	if !wait {
		if r.asJSON {
			return r.printJSON(raw)
		}
		fmt.Fprintf(r.c.stdout, "deployment %s: %s of %s (commit %s) to %s/%s queued\n",
			res.Deployment, res.Kind, res.Version, short(res.Commit), res.Project, res.Environment)
		return nil
	}
	if !r.asJSON {
		fmt.Fprintf(r.c.stderr, "deployment %s: %s of %s (commit %s) to %s/%s\n",
			res.Deployment, res.Kind, res.Version, short(res.Commit), res.Project, res.Environment)
	}
	return r.follow(ctx, res.Deployment)
}

// follow polls a deployment until it ends, says each change of state on
// stderr, then prints the result; a deployment that did not succeed is
// exit code 1.
func (r *remote) follow(ctx context.Context, id string) error {
	last := ""
	for {
		var dep projections.Deployment
		raw, err := r.request(ctx, http.MethodGet, httpapi.Path("deployments", id), nil, nil, &dep)
		if err != nil {
			return err
		}
		if dep.State != last && !r.asJSON {
			fmt.Fprintf(r.c.stderr, "deployment %s: %s\n", id, dep.State)
			last = dep.State
		}
		if deploymentEnded(dep.State) {
			if r.asJSON {
				if err := r.printJSON(raw); err != nil {
					return err
				}
			} else {
				r.c.printDeployment(dep, false)
			}
			if dep.State != projections.DeploySucceeded {
				msg := fmt.Sprintf("deployment %s %s", id, dep.State)
				if dep.Error != "" {
					msg += ": " + dep.Error
				}
				return &exitError{code: ExitFailure, err: fmt.Errorf("%s", msg)}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped following deployment %s (it goes on: releasedesk deployment show %s): %w", id, id, ctx.Err())
		case <-time.After(followInterval):
		}
	}
}

// followInterval is how often --wait asks how a deployment is doing.
const followInterval = 250 * time.Millisecond

func deploymentEnded(state string) bool {
	switch state {
	case projections.DeploySucceeded, projections.DeployFailed, projections.DeployCancelled, projections.DeployInterrupted:
		return true
	}
	return false
}

// printDeployment shows a deployment and each host's result; steps adds
// every step with its exit code.
func (c *cli) printDeployment(dep projections.Deployment, steps bool) {
	fmt.Fprintf(c.stdout, "deployment %s: %s of %s to %s/%s: %s", dep.ID, dep.Kind, dep.Version, dep.Project, dep.Environment, dep.State)
	if dep.DurationMS > 0 {
		fmt.Fprintf(c.stdout, " in %s", (time.Duration(dep.DurationMS) * time.Millisecond).Round(time.Millisecond))
	}
	fmt.Fprintln(c.stdout)
	if dep.Error != "" {
		fmt.Fprintf(c.stdout, "error: %s\n", oneLine(dep.Error))
	}
	if dep.Reason != "" {
		fmt.Fprintf(c.stdout, "reason: %s\n", oneLine(dep.Reason))
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	for _, h := range dep.Hosts {
		detail := h.Version
		if h.Error != "" {
			detail = "failed at " + h.FailedStep + ": " + oneLine(h.Error)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", h.Host, h.State, detail)
	}
	_ = tw.Flush()
	if !steps {
		return
	}
	printSteps(c.stdout, dep.Steps)
}

func (c *cli) releaseTestCommand() *cobra.Command {
	var pass, fail bool
	var note string
	var r *remote
	cmd := &cobra.Command{
		Use:     "test ID --pass|--fail",
		Short:   "Record a test result of a release live on a test stage (testers; not your own release)",
		Example: "  releasedesk release test 7 --pass --note \"checked on phones too\"",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pass == fail {
				return usageError{fmt.Errorf("%s needs exactly one of --pass or --fail", cmd.CommandPath())}
			}
			return r.decision(cmd.Context(), args[0], "test", httpapi.TestRequest{Passed: &pass, Note: note})
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().BoolVar(&pass, "pass", false, "the test passed")
	cmd.Flags().BoolVar(&fail, "fail", false, "the test failed (the release goes back to the developers)")
	cmd.Flags().StringVar(&note, "note", "", "what was tested, or what failed")
	return cmd
}

// releaseDecisionCommand is a verb whose body is one text field: a note
// (optional) or a reason (required).
func (c *cli) releaseDecisionCommand(verb, field, short, example string) *cobra.Command {
	var text string
	var r *remote
	use := verb + " ID"
	if field == "reason" {
		use += " --reason R"
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: "  " + example,
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body any = httpapi.NoteRequest{Note: text}
			if field == "reason" {
				if err := required(cmd, "reason"); err != nil {
					return err
				}
				body = httpapi.ReasonRequest{Reason: text}
			}
			return r.decision(cmd.Context(), args[0], verb, body)
		},
	}
	r = c.remoteFlags(cmd)
	if field == "reason" {
		cmd.Flags().StringVar(&text, "reason", "", "why (required; recorded)")
	} else {
		cmd.Flags().StringVar(&text, "note", "", "a note (recorded)")
	}
	return cmd
}

// releaseRefuseCommand is `release refuse`: a decision with a reason, and
// optionally the rollback of production to the version before the release.
func (c *cli) releaseRefuseCommand() *cobra.Command {
	var in httpapi.RefuseRequest
	var r *remote
	cmd := &cobra.Command{
		Use:   "refuse ID --reason R [--rollback]",
		Short: "Refuse a live release (managers): it goes back to work; --rollback also takes production back",
		Long: `Refuse a release live on the last stage. With --rollback, production goes
back to the version it ran before the release, in the same decision
(everything is checked before the refusal is recorded; should the rollback
still fail to start, the refusal stands and the message says so). Follow
the rollback with: releasedesk deployment show ID`,
		Example: "  releasedesk release refuse 7 --reason \"checkout broke\" --rollback",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required(cmd, "reason"); err != nil {
				return err
			}
			return r.decision(cmd.Context(), args[0], "refuse", in)
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().StringVar(&in.Reason, "reason", "", "why (required; recorded)")
	cmd.Flags().BoolVar(&in.Rollback, "rollback", false, "also roll production back to the version before the release")
	return cmd
}

func (c *cli) releaseCompleteCommand() *cobra.Command {
	var r *remote
	cmd := &cobra.Command{
		Use:     "complete ID",
		Short:   "Complete an accepted release: tag its commit release/<version> in the repository",
		Example: "  releasedesk release complete 7",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.decision(cmd.Context(), args[0], "complete", struct{}{})
		},
	}
	r = c.remoteFlags(cmd)
	return cmd
}

// decision posts a release decision and shows the release after it.
func (r *remote) decision(ctx context.Context, id, verb string, body any) error {
	var out httpapi.ReleaseResponse
	raw, err := r.request(ctx, http.MethodPost, httpapi.Path("releases", id, verb), nil, body, &out)
	if err != nil {
		return err
	}
	if r.asJSON {
		return r.printJSON(raw)
	}
	rel := out.Release
	fmt.Fprintf(r.c.stdout, "release %s: %s\n", rel.ID, rel.State)
	if rel.Tag != "" && verb == "complete" {
		fmt.Fprintf(r.c.stdout, "tagged %s\n", rel.Tag)
	}
	if rb := out.Rollback; rb != nil {
		fmt.Fprintf(r.c.stdout, "rolling %s back to %s: deployment %s\n", rb.Environment, rb.Version, rb.Deployment)
	}
	if out.RollbackError != "" {
		return fmt.Errorf("the refusal is recorded, but its rollback did not start: %s", out.RollbackError)
	}
	return nil
}

// short is a commit's first 7 characters.
func short(commit string) string {
	if len(commit) > 7 {
		return commit[:7]
	}
	return commit
}

func commitOn(commit, env string) string {
	if commit == "" {
		return ""
	}
	if env == "" {
		return short(commit)
	}
	return short(commit) + " (" + env + ")"
}

// oneLine keeps text people typed on one line of a table.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 100 {
		return string(r[:99]) + "…"
	}
	return s
}
