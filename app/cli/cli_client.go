package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"releasedesk/app"
	"releasedesk/app/httpapi"

	"github.com/spf13/cobra"
)

// The scripting verbs talk to a running server over the JSON API, like
// the UI: the server decides and records everything, the command line only
// asks and shows the answer.

// Where the verbs find the server and the token when no flag says.
const (
	envServer     = "RELEASEDESK_SERVER"
	envToken      = "RELEASEDESK_TOKEN"
	defaultServer = "http://" + httpapi.DefaultAddr
)

// remote is a verb's connection flags: --server, --token-file, --json.
type remote struct {
	c         *cli
	server    string
	tokenFile string
	asJSON    bool
}

// remoteFlags adds the connection flags to a verb.
func (c *cli) remoteFlags(cmd *cobra.Command) *remote {
	r := &remote{c: c}
	def := os.Getenv(envServer)
	if def == "" {
		def = defaultServer
	}
	cmd.Flags().StringVar(&r.server, "server", def, "Release Desk server URL (env "+envServer+")")
	cmd.Flags().StringVar(&r.tokenFile, "token-file", "", "file holding the bearer token (default: env "+envToken+")")
	cmd.Flags().BoolVar(&r.asJSON, "json", false, "print the server's JSON instead of text")
	return r
}

// token is the bearer token: --token-file, else RELEASEDESK_TOKEN.
func (r *remote) token() (string, error) {
	if r.tokenFile != "" {
		b, err := os.ReadFile(r.tokenFile)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return strings.TrimSpace(os.Getenv(envToken)), nil
}

// base checks --server and returns it without a trailing slash.
func (r *remote) base() (string, error) {
	u, err := url.Parse(r.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usageError{fmt.Errorf("--server %q: want http://HOST:PORT or https://HOST:PORT", r.server)}
	}
	return strings.TrimRight(r.server, "/"), nil
}

// client is the API client of this verb's flags.
func (r *remote) client() (*httpapi.Client, error) {
	base, err := r.base()
	if err != nil {
		return nil, err
	}
	tok, err := r.token()
	if err != nil {
		return nil, err
	}
	return &httpapi.Client{Base: base, Token: tok}, nil
}

// request sends one call and decodes a JSON answer into out (when not
// nil); it returns the raw body too, for --json. body is nil, a Raw, or a
// value sent as JSON. A refusal exits 1 with the server's message.
func (r *remote) request(ctx context.Context, method, path string, query url.Values, body any, out any) ([]byte, error) {
	cl, err := r.client()
	if err != nil {
		return nil, err
	}
	raw, err := cl.Call(ctx, method, path, query, body, out)
	return raw, refusal(err)
}

// send makes the call and returns the open response (the caller closes
// it); a refusal is still a response here.
func (r *remote) send(ctx context.Context, method, path string, query url.Values) (*http.Response, error) {
	cl, err := r.client()
	if err != nil {
		return nil, err
	}
	return cl.Send(ctx, method, path, query, nil)
}

// refusal is how a verb reports the server's refusal: exit 1 with its
// message, and how to sign in when the token was not taken.
func refusal(err error) error {
	var e *httpapi.Error
	if !errors.As(err, &e) {
		return err
	}
	if e.Status == http.StatusUnauthorized && !strings.Contains(e.Message, envToken) {
		e.Message += " (sign in: releasedesk login --user NAME, then set " + envToken + ")"
	}
	return &exitError{code: ExitFailure, err: e}
}

// printJSON writes the server's answer as it came, indented.
func (r *remote) printJSON(raw []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, bytes.TrimSpace(raw), "", "  "); err != nil {
		_, err = r.c.stdout.Write(raw)
		return err
	}
	b.WriteByte('\n')
	_, err := r.c.stdout.Write(b.Bytes())
	return err
}

// exactArgs is cobra.ExactArgs whose refusal exits with ExitUsage and names
// what is missing.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usageError{fmt.Errorf("%s takes %s, got %d arguments", cmd.CommandPath(), strings.Join(names, " "), len(args))}
		}
		for i, a := range args {
			if strings.TrimSpace(a) == "" {
				return usageError{fmt.Errorf("%s: %s is empty", cmd.CommandPath(), names[i])}
			}
		}
		return nil
	}
}

// required refuses empty flags with ExitUsage.
func required(cmd *cobra.Command, names ...string) error {
	for _, n := range names {
		if f := cmd.Flags().Lookup(n); f != nil && strings.TrimSpace(f.Value.String()) == "" {
			return usageError{fmt.Errorf("%s needs --%s", cmd.CommandPath(), n)}
		}
	}
	return nil
}

// readSecretLine reads the first line of stdin (a password), without its
// line ending.
func readSecretLine(in io.Reader) (string, error) {
	var b bytes.Buffer
	buf := make([]byte, 1)
	for b.Len() <= app.MaxPasswordLen*4 {
		n, err := in.Read(buf)
		if n > 0 {
			if buf[0] == '\n' {
				break
			}
			b.WriteByte(buf[0])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return strings.TrimSuffix(b.String(), "\r"), nil
}

// deskCommands are the commands of issue 4 beside serve: bootstrap (user
// add, demo) and the scripting verbs.
func (c *cli) deskCommands() []*cobra.Command {
	return []*cobra.Command{c.userCommand(), c.demoCommand(), c.loginCommand(), c.releaseCommand(),
		c.deploymentCommand(), c.rollbackCommand(), c.versionsCommand(), c.projectCommand(), c.hostsCommand(),
		c.auditCommand(), c.tokenCommand(), c.passwordCommand(), c.contactsCommand()}
}

// groupRun refuses a group command used without one of its subcommands
// (cobra would print the help and exit 0, which a script takes for done).
func groupRun(cmd *cobra.Command, args []string) error {
	var names []string
	for _, s := range cmd.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s: unknown command %q (one of: %s)", cmd.CommandPath(), args[0], strings.Join(names, ", "))}
	}
	return usageError{fmt.Errorf("%s needs a command: one of %s", cmd.CommandPath(), strings.Join(names, ", "))}
}
