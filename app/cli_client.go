package app

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
	"time"

	"releasedesk/app/projectconfig"

	"github.com/spf13/cobra"
)

// The scripting verbs talk to a running server over the JSON API, like
// the UI: the server decides and records everything, the command line only
// asks and shows the answer.

// Where the verbs find the server and the token when no flag says.
const (
	envServer     = "RELEASEDESK_SERVER"
	envToken      = "RELEASEDESK_TOKEN"
	defaultServer = "http://" + DefaultAddr
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

// apiPath joins path segments under /api/v1, escaping each one: what a
// person typed never changes the route it goes to.
func apiPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		if s == "." || s == ".." {
			// PathEscape leaves dots, and a path cleaner would climb.
			b.WriteString(strings.Repeat("%2E", len(s)))
			continue
		}
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// serverError is the server's {error: {...}} answer.
type serverError struct {
	Status  int                        `json:"-"`
	Code    string                     `json:"code"`
	Message string                     `json:"message"`
	Field   string                     `json:"field,omitempty"`
	Fields  []projectconfig.FieldError `json:"fields,omitempty"`
	Rule    string                     `json:"rule,omitempty"`
}

// Error is the message, with the field or the rule when the server named
// one, and every problem of a configuration on its own line.
func (e *serverError) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Message == "" {
		fmt.Fprintf(&b, "the server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	switch {
	case e.Rule != "" && e.Rule == e.Message:
		b.Reset()
		fmt.Fprintf(&b, "refused by the rule: %s", e.Rule)
	case e.Rule != "":
		fmt.Fprintf(&b, " (rule: %s)", e.Rule)
	}
	if e.Field != "" && !strings.HasPrefix(e.Message, e.Field+":") {
		fmt.Fprintf(&b, " (field: %s)", e.Field)
	}
	if len(e.Fields) > 0 {
		b.Reset()
		problems := "problems"
		if len(e.Fields) == 1 {
			problems = "problem"
		}
		fmt.Fprintf(&b, "the configuration has %d %s; nothing was changed:", len(e.Fields), problems)
		for _, f := range e.Fields {
			b.WriteString("\n  ")
			b.WriteString(f.String())
		}
	}
	return b.String()
}

// request sends one call and decodes a JSON answer into out (when not
// nil); it returns the raw body too, for --json. body is nil, []byte sent
// as is with contentType, or a value sent as JSON.
func (r *remote) request(ctx context.Context, method, path string, query url.Values, body any, out any) ([]byte, error) {
	return r.do(ctx, method, path, query, body, "", out)
}

// do is request with the content type of a []byte body.
func (r *remote) do(ctx context.Context, method, path string, query url.Values, body any, contentType string, out any) ([]byte, error) {
	res, err := r.send(ctx, method, path, query, body, contentType)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, &exitError{code: ExitFailure, err: fmt.Errorf("reading the answer of %s %s: %w", method, path, err)}
	}
	if res.StatusCode >= 300 {
		return raw, errorOf(res.StatusCode, raw)
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, fmt.Errorf("the answer of %s %s is not the JSON expected: %w", method, path, err)
		}
	}
	return raw, nil
}

// send makes the call and returns the open response (the caller closes
// it); a refusal is still a response here.
func (r *remote) send(ctx context.Context, method, path string, query url.Values, body any, contentType string) (*http.Response, error) {
	base, err := r.base()
	if err != nil {
		return nil, err
	}
	tok, err := r.token()
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, contentType = bytes.NewReader(data), "application/json"
	}
	target := base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, usageError{fmt.Errorf("--server: %w", err)}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Accept", "application/json")
	res, err := cliHTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach Release Desk at %s: %w", base, unwrapURLError(err))
	}
	return res, nil
}

// cliHTTP has a timeout for connecting, none for the whole call: an export
// or a deploy may take long, and Ctrl-C ends it.
var cliHTTP = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 5 * time.Minute,
}}

// unwrapURLError drops url.Error's "Get \"...\":" prefix: the message
// already names the server.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// errorOf reads an error answer; anything not in the API's shape (a proxy's
// page) is still reported with its status.
func errorOf(status int, raw []byte) error {
	var env struct {
		Error *serverError `json:"error"`
	}
	if json.Unmarshal(raw, &env) != nil || env.Error == nil {
		text := strings.TrimSpace(string(raw))
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		env.Error = &serverError{Message: fmt.Sprintf("the server answered %d %s: %s", status, http.StatusText(status), text)}
	}
	env.Error.Status = status
	if status == http.StatusUnauthorized {
		env.Error.Message += " (sign in: releasedesk login --user NAME, then set " + envToken + ")"
	}
	return &exitError{code: ExitFailure, err: env.Error}
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
	for b.Len() <= maxPasswordLen*4 {
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
		c.auditCommand()}
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
