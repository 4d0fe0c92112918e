package cli

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"releasedesk/app"
	"releasedesk/app/httpapi"
	"releasedesk/app/projectconfig"
	"releasedesk/projections"
)

// Scripting verbs about projects, environments, hosts and the audit trail.

func (c *cli) projectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "project",
		RunE:  groupRun,
		Short: "Configure projects on a running server",
	}
	var file string
	var dryRun bool
	var r *remote
	apply := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or change a project from a YAML or JSON file (admins); prints the diff",
		Long: `Sends the configuration to the server, which checks all of it first: on any
problem nothing is written, every problem is printed as "path: reason", and
the exit code is 1. Otherwise the change is recorded with its diff, which is
printed. Applying what is already configured changes nothing.`,
		Example: `  releasedesk project apply -f shop.yaml
  releasedesk project apply -f shop.json --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required(cmd, "file"); err != nil {
				return err
			}
			data, ct, err := c.readConfigFile(file)
			if err != nil {
				return err
			}
			// The server validates first (every problem, by path); the
			// canonical YAML it answers names the project to address.
			var checked struct {
				Diff []string `json:"diff"`
				YAML string   `json:"yaml"`
			}
			raw, err := r.request(cmd.Context(), http.MethodPost, httpapi.Path("projects", "validate"), nil, httpapi.Raw{Data: data, ContentType: ct}, &checked)
			if err != nil {
				return err
			}
			if dryRun {
				if r.asJSON {
					return r.printJSON(raw)
				}
				c.printDiff("valid; would change", checked.Diff)
				return nil
			}
			var id struct {
				ID string `yaml:"id"`
			}
			if err := yaml.Unmarshal([]byte(checked.YAML), &id); err != nil || id.ID == "" {
				return fmt.Errorf("the server's answer names no project id")
			}
			var out struct {
				Diff    []string `json:"diff"`
				Changed bool     `json:"changed"`
			}
			raw, err = r.request(cmd.Context(), http.MethodPut, httpapi.Path("projects", id.ID), nil, httpapi.Raw{Data: data, ContentType: ct}, &out)
			if err != nil {
				return err
			}
			if r.asJSON {
				return r.printJSON(raw)
			}
			if !out.Changed {
				fmt.Fprintf(c.stdout, "project %s: unchanged\n", id.ID)
				return nil
			}
			c.printDiff("project "+id.ID+": changed", out.Diff)
			return nil
		},
	}
	r = c.remoteFlags(apply)
	apply.Flags().StringVarP(&file, "file", "f", "", "the configuration (.yaml, .yml or .json; - for standard input)")
	apply.Flags().BoolVar(&dryRun, "dry-run", false, "only check the file and show what would change")
	cmd.AddCommand(apply)
	return cmd
}

// readConfigFile reads a configuration and tells its content type by its
// extension ("" lets the server tell by the content).
func (c *cli) readConfigFile(file string) ([]byte, string, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(io.LimitReader(c.stdin, projectconfig.MaxSize+1))
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, "", fmt.Errorf("-f: %w", err)
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".json":
		return data, "application/json", nil
	case ".yaml", ".yml":
		return data, "application/yaml", nil
	}
	return data, "", nil
}

func (c *cli) printDiff(head string, diff []string) {
	fmt.Fprintln(c.stdout, head)
	for _, d := range diff {
		fmt.Fprintf(c.stdout, "  %s\n", d)
	}
}

func (c *cli) rollbackCommand() *cobra.Command {
	var project, env, version, reason string
	var wait bool
	var r *remote
	cmd := &cobra.Command{
		Use:   "rollback --project P --env E --version V --reason R",
		Short: "Switch an environment back to a version of its timeline (see: releasedesk versions)",
		Long: `Asks for a rollback of the environment to a version that went live there
before. Hosts that still keep the release switch at once; the others get it
staged again. Who asked and why is recorded. With --wait, follows the
rollback until it ends and exits 1 if it did not succeed.`,
		Example: `  releasedesk rollback --project shop --env production \
      --version 20260301093000-3f2a9c1 --reason "checkout broke" --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required(cmd, "project", "env", "version", "reason"); err != nil {
				return err
			}
			var res app.DeployResult
			raw, err := r.request(cmd.Context(), http.MethodPost,
				httpapi.Path("projects", project, "environments", env, "rollback"), nil,
				httpapi.RollbackRequest{Version: version, Reason: reason}, &res)
			if err != nil {
				return err
			}
			return r.deployed(cmd.Context(), raw, res, wait)
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "project id")
	cmd.Flags().StringVar(&env, "env", "", "the environment to roll back")
	cmd.Flags().StringVar(&version, "version", "", "the version to go back to")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded)")
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the rollback until it ends; exit 1 if it failed")
	return cmd
}

func (c *cli) versionsCommand() *cobra.Command {
	var project, env string
	var r *remote
	cmd := &cobra.Command{
		Use:     "versions --project P --env E",
		Short:   "List the versions that went live on an environment, newest first",
		Example: "  releasedesk versions --project shop --env production",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required(cmd, "project", "env"); err != nil {
				return err
			}
			var ev projections.EnvVersions
			raw, err := r.request(cmd.Context(), http.MethodGet,
				httpapi.Path("projects", project, "environments", env, "versions"), nil, nil, &ev)
			if err != nil {
				return err
			}
			if r.asJSON {
				return r.printJSON(raw)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tCOMMIT\tKIND\tBY\tRELEASE\tOUTCOME\t")
			for _, v := range ev.Timeline {
				var marks []string
				if v.Current {
					marks = append(marks, "current")
				}
				if v.Instant {
					marks = append(marks, "kept")
				}
				if v.Bad {
					marks = append(marks, "bad")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Version, short(v.Commit), v.Kind, v.By, v.Release, v.Outcome,
					strings.Join(marks, ","))
			}
			return tw.Flush()
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "project id")
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.AddCommand(c.versionsBadCommand())
	return cmd
}

// versionsBadCommand marks a version bad: it is shown so, and offered for
// no rollback.
func (c *cli) versionsBadCommand() *cobra.Command {
	var project, env, version, reason string
	var r *remote
	cmd := &cobra.Command{
		Use:     "bad --project P --env E --version V --reason R",
		Short:   "Mark a version bad on an environment: shown so, never offered for a rollback",
		Example: "  releasedesk versions bad --project shop --env production --version 20261126091502-3f2a9c1 --reason 'breaks checkout'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required(cmd, "project", "env", "version", "reason"); err != nil {
				return err
			}
			raw, err := r.request(cmd.Context(), http.MethodPost,
				httpapi.Path("projects", project, "environments", env, "versions", version, "bad"), nil,
				httpapi.ReasonRequest{Reason: reason}, nil)
			if err != nil {
				return err
			}
			if r.asJSON {
				return r.printJSON(raw)
			}
			fmt.Fprintf(c.stdout, "%s on %s/%s marked bad\n", version, project, env)
			return nil
		},
	}
	r = c.remoteFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "project id")
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVar(&version, "version", "", "the version (YYYYMMDDHHMMSS-sha7)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit trail)")
	return cmd
}

func (c *cli) hostsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hosts",
		RunE:  groupRun,
		Short: "See and trust the hosts' SSH keys; check what the hosts run (drift); break a stale lock",
	}
	cmd.AddCommand(c.hostsDriftCommand(), c.hostsUnlockCommand())
	var rk *remote
	key := &cobra.Command{
		Use:     "key ADDR",
		Short:   "Show the key a host offers now and whether it is trusted",
		Example: "  releasedesk hosts key www@10.0.0.5:22",
		Args:    exactArgs("ADDR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, raw, err := rk.hostKey(cmd, args[0])
			if err != nil {
				return err
			}
			if rk.asJSON {
				return rk.printJSON(raw)
			}
			c.printHostKey(info)
			return nil
		},
	}
	rk = c.remoteFlags(key)

	var keyText string
	var yes bool
	var rt *remote
	trust := &cobra.Command{
		Use:   "trust ADDR [--key K | --yes]",
		Short: "Trust a host's key (admins): the given one, or the one it offers after showing its fingerprint",
		Long: `With --key, trusts that key ("<type> <base64>"). Otherwise asks the host for
the key it offers, prints its fingerprint, and trusts it when you answer y
(or at once with --yes: check the fingerprint another way first).`,
		Example: `  releasedesk hosts trust www@10.0.0.5:22
  releasedesk hosts trust 10.0.0.5:22 --key "ssh-ed25519 AAAAC3Nza..."`,
		Args: exactArgs("ADDR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr := args[0]
			if keyText != "" && yes {
				return usageError{fmt.Errorf("%s: --key and --yes do not go together", cmd.CommandPath())}
			}
			if keyText == "" {
				info, _, err := rt.hostKey(cmd, addr)
				if err != nil {
					return err
				}
				c.printHostKey(info)
				if info.State == projections.KeyTrusted {
					fmt.Fprintf(c.stdout, "%s is already trusted\n", info.Addr)
					return nil
				}
				if !yes && !c.confirm("Trust this key? [y/N] ") {
					return &exitError{code: ExitFailure, err: fmt.Errorf("not trusted: %s", addr)}
				}
				keyText = info.Key
			}
			var k projections.HostKey
			raw, err := rt.request(cmd.Context(), http.MethodPost, httpapi.Path("hosts", "trust"), nil,
				httpapi.TrustRequest{Addr: addr, Key: keyText}, &k)
			if err != nil {
				return err
			}
			if rt.asJSON {
				return rt.printJSON(raw)
			}
			fmt.Fprintf(c.stdout, "trusted %s: %s\n", addr, k.Fingerprint)
			return nil
		},
	}
	rt = c.remoteFlags(trust)
	trust.Flags().StringVar(&keyText, "key", "", `the key to trust, "<type> <base64>"`)
	trust.Flags().BoolVar(&yes, "yes", false, "trust the offered key without asking")
	cmd.AddCommand(key, trust)
	return cmd
}

func (r *remote) hostKey(cmd *cobra.Command, addr string) (app.HostKeyInfo, []byte, error) {
	var info app.HostKeyInfo
	raw, err := r.request(cmd.Context(), http.MethodGet, httpapi.Path("hosts", "key"), url.Values{"addr": {addr}}, nil, &info)
	return info, raw, err
}

func (c *cli) printHostKey(info app.HostKeyInfo) {
	fmt.Fprintf(c.stdout, "%s offers %s %s (%s)\n", info.Addr, info.KeyType, info.Fingerprint, info.State)
	if info.State == projections.KeyChanged {
		fmt.Fprintf(c.stdout, "WARNING: the trusted key is %s (trusted by %s): the host's key changed\n", info.Trusted, info.TrustedBy)
	}
}

// confirm asks a yes/no question on stdin; anything but y or yes is no.
func (c *cli) confirm(question string) bool {
	fmt.Fprint(c.stderr, question)
	line, _ := bufio.NewReader(c.stdin).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}

func (c *cli) auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		RunE:  groupRun,
		Short: "Read the audit trail of a running server",
	}
	var format, out, project, actor, typ string
	var r *remote
	export := &cobra.Command{
		Use:   "export --format csv|jsonl [--out FILE]",
		Short: "Export the audit trail: CSV rows, or JSON Lines that verify offline",
		Example: `  releasedesk audit export --format csv --out audit.csv
  releasedesk audit export --format jsonl --project shop > shop.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "csv" && format != "jsonl" {
				return usageError{fmt.Errorf("--format: %q is not one of csv, jsonl", format)}
			}
			q := url.Values{"format": {format}}
			for k, v := range map[string]string{"project": project, "actor": actor, "type": typ} {
				if v != "" {
					q.Set(k, v)
				}
			}
			res, err := r.send(cmd.Context(), http.MethodGet, httpapi.Path("audit", "export"), q)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			if res.StatusCode >= 300 {
				raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
				return refusal(httpapi.ErrorOf(res.StatusCode, raw))
			}
			w, finish, err := c.stdoutOrFile(out)
			if err != nil {
				return err
			}
			n, err := io.Copy(w, res.Body)
			if ferr := finish(); err == nil {
				err = ferr
			}
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if out != "" && out != "-" {
				fmt.Fprintf(c.stderr, "exported %d bytes to %s\n", n, out)
			}
			return nil
		},
	}
	r = c.remoteFlags(export)
	export.Flags().StringVar(&format, "format", "csv", "csv or jsonl")
	export.Flags().StringVar(&out, "out", "", "file to write (must not exist); default standard output")
	export.Flags().StringVar(&project, "project", "", "only this project")
	export.Flags().StringVar(&actor, "actor", "", "only this actor")
	export.Flags().StringVar(&typ, "type", "", "only this event type")
	cmd.AddCommand(export)
	return cmd
}
