package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"releasedesk/app"
	"releasedesk/app/httpapi"
	"releasedesk/app/window"
	"releasedesk/events"
	"releasedesk/runner"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

// Exit codes of the command line, stable for scripts.
const (
	ExitOK       = 0
	ExitFailure  = 1 // the command could not do its work
	ExitUsage    = 2 // bad flags or arguments
	ExitVerify   = 3 // a verification found a broken chain
	exitNoWindow = 4 // a window was asked for and cannot be shown
)

// exitError carries an exit code up to Main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// cli is the state the commands share: where the data lives, where output
// goes, and the embedded frontend.
type cli struct {
	assets  fs.FS
	dataDir string
	store   string // the log's PostgreSQL address; "" when it is in the data directory (cli_store.go)
	// secretKeyFile seals a PostgreSQL server's secrets (--secret-key-file).
	secretKeyFile string
	// configFile holds settings for flags not given (--config).
	configFile string
	logger     *logrus.Logger
	stdout     io.Writer
	stderr     io.Writer
	stdin      io.Reader
}

// Main runs the releasedesk command line and returns the process exit code.
// assets is the built frontend (frontend/dist).
func Main(ctx context.Context, assets fs.FS, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	logger := logrus.New()
	logger.SetOutput(stderr)
	c := &cli{assets: assets, logger: logger, stdout: stdout, stderr: stderr, stdin: stdin}
	root := c.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "releasedesk:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var broken *app.BrokenChainError
	if errors.As(err, &broken) {
		return ExitVerify
	}
	if isUsageError(err) {
		return ExitUsage
	}
	return ExitFailure
}

// usageError marks flag and argument mistakes so they exit with ExitUsage.
type usageError struct{ error }

func isUsageError(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

func (c *cli) rootCommand() *cobra.Command {
	var logLevel, alsoServe, server string
	root := &cobra.Command{
		Use:   "releasedesk",
		Short: "Release Desk: open, test, approve, publish and roll back Git releases",
		Long: `Release Desk publishes Git code to servers and keeps the whole story of every
release in an append-only event log.

With no command it opens the desktop window, or, where no display exists
(or the binary has no window), serves the UI at http://` + httpapi.DefaultAddr + `.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := c.applyConfig(cmd); err != nil {
				return err
			}
			lvl, err := logrus.ParseLevel(logLevel)
			if err != nil {
				return usageError{fmt.Errorf("--log-level: %w", err)}
			}
			c.logger.SetLevel(lvl)
			return c.resolveStore(cmd)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runDefault(cmd.Context(), alsoServe, server)
		},
	}
	root.Flags().StringVar(&server, "server", "", "open the window on a team's server (https://desk.example.com) "+
		"instead of this computer's desk; an unknown self-signed certificate is shown to confirm first")
	root.Flags().StringVar(&alsoServe, "serve-addr", "", "with the window, also serve the UI and API on this address "+
		"(e.g. 127.0.0.1:7788), so scripts and a browser can work beside it")
	root.PersistentFlags().StringVar(&c.dataDir, "data", app.DefaultDataDir(), "data directory (event log, known_hosts, workspace)")
	c.storeFlag(root)
	c.configFlag(root)
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warning, error")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(c.serveCommand(), c.openCommand(), c.eventsCommand(), c.versionCommand())
	root.AddCommand(c.deskCommands()...)
	return root
}

func (c *cli) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(c.stdout, "releasedesk", app.Version)
			return nil
		},
	}
}

// runDefault opens the window when it can, else serves on loopback and says
// where, so `make run` works on a machine with no display. alsoServe, when
// set, serves the same handler on that address beside the window (one
// process owns the data directory, so this is how scripts reach it then).
// server, when set, opens the window on that server: this computer's desk
// stays closed (its data directory unlocked) until the window comes back.
func (c *cli) runDefault(ctx context.Context, alsoServe, server string) error {
	if server != "" && alsoServe != "" {
		return usageError{errors.New("--serve-addr serves this computer's desk beside the window; with --server the window is on a server")}
	}
	if server != "" {
		if _, err := window.ServerURL(server); err != nil {
			return usageError{fmt.Errorf("--server: %w", err)}
		}
	} else if err := c.notOnPostgres("the app", serveOnPostgres); err != nil {
		return err
	}
	if !window.Built || !window.HasDisplay() {
		if server != "" {
			return &exitError{code: exitNoWindow, err: errors.New("--server: no window can be shown here (no display, or no window in this binary); open the server in a browser")}
		}
		why := "no display found"
		if !window.Built {
			why = "this binary has no desktop window"
		}
		fmt.Fprintf(c.stderr, "releasedesk: %s; serving the UI in the browser instead.\n", why)
		return c.serve(ctx, listenOptions{ListenConfig: httpapi.ListenConfig{Addr: cmp.Or(alsoServe, httpapi.DefaultAddr)}}, "")
	}
	bookPath, err := window.DefaultServerBookPath()
	if err != nil {
		return fmt.Errorf("the window's list of servers: %w", err)
	}
	opts := window.DesktopOptions{Joinable: true, Book: window.NewServerBook(bookPath), Server: server,
		Language: window.Language(), Logger: c.logger, OpenLocal: c.openLocalDesk("")}
	if alsoServe != "" {
		// Served beside the window, this computer's desk stays open even
		// while the window is on a server.
		desk, srv, err := c.openServer(ctx, "", httpapi.ServerConfig{WindowLanguage: window.Language()})
		if err != nil {
			return err
		}
		defer desk.Close()
		opts.KeepLocal = true
		opts.OpenLocal = func(context.Context) (*window.LocalDesk, error) {
			l := window.LocalDeskOf(desk, srv)
			l.Close = func() {} // closed above, when the command ends
			return l, nil
		}
		sctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			err := httpapi.ListenAndServe(sctx, httpapi.ListenConfig{Addr: alsoServe}, srv, c.logger, func(url string) {
				fmt.Fprintf(c.stdout, "Release Desk is at %s/ (beside the window; data: %s)\n", url, c.dataDir)
			})
			if err != nil {
				c.logger.WithError(err).Error("serving beside the window failed")
			}
		}()
	}
	return c.runWindow(ctx, opts)
}

// openLocalDesk opens this computer's desk (or archive) for the window.
func (c *cli) openLocalDesk(archive string) func(context.Context) (*window.LocalDesk, error) {
	return func(ctx context.Context) (*window.LocalDesk, error) {
		desk, srv, err := c.openServer(ctx, archive, httpapi.ServerConfig{WindowLanguage: window.Language()})
		if err != nil {
			return nil, err
		}
		return window.LocalDeskOf(desk, srv), nil
	}
}

// runWindow opens the window over opts' desks until it closes.
func (c *cli) runWindow(ctx context.Context, opts window.DesktopOptions) error {
	d, err := window.NewDesktop(ctx, opts)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := window.Run(ctx, c.assets, d); err != nil {
		return &exitError{code: exitNoWindow, err: err}
	}
	return nil
}

// openServer opens the desk (the data directory, or an archive for
// offline review) and builds the handler over it; web says how it is
// reached (names, plain HTTP).
func (c *cli) openServer(ctx context.Context, archive string, web httpapi.ServerConfig) (*app.Desk, *httpapi.Server, error) {
	return c.openServerWith(ctx, app.DeskConfig{Data: app.DataDir{Path: c.dataDir}, Archive: archive, Logger: c.logger}, web)
}

// openServerWith is openServer with the desk's configuration (serve on a
// PostgreSQL store).
func (c *cli) openServerWith(ctx context.Context, cfg app.DeskConfig, web httpapi.ServerConfig) (*app.Desk, *httpapi.Server, error) {
	desk, err := app.OpenDesk(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	web.Desk, web.Assets, web.Logger = desk, c.assets, c.logger
	return desk, httpapi.NewServer(web), nil
}

// listenOptions are serve's flags about the network.
type listenOptions struct {
	httpapi.ListenConfig
	publicNames []string // --public-name
}

// flags adds --addr, the TLS pair, --public-name and --insecure-http.
func (o *listenOptions) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Addr, "addr", httpapi.DefaultAddr, "address to listen on")
	cmd.Flags().StringVar(&o.TLSCert, "tls-cert", "", "TLS certificate file (with --tls-key) when exposed beyond loopback")
	cmd.Flags().StringVar(&o.TLSKey, "tls-key", "", "TLS private key file")
	cmd.Flags().StringArrayVar(&o.publicNames, "public-name", nil, "a name people reach the desk by (desk.example.com, "+
		"or name:port); repeatable. Loopback, the --addr address and the certificate's names are always allowed")
	cmd.Flags().BoolVar(&o.InsecureHTTP, "insecure-http", false, "allow plain HTTP on an --addr beyond loopback "+
		"(only behind a proxy that terminates TLS on this machine); the UI shows a warning")
}

func (c *cli) serve(ctx context.Context, lo listenOptions, archive string) error {
	return c.serveDesk(ctx, lo, app.DeskConfig{Data: app.DataDir{Path: c.dataDir}, Archive: archive, Logger: c.logger})
}

// serveDesk serves the desk cfg opens (serve, also on a PostgreSQL store).
func (c *cli) serveDesk(ctx context.Context, lo listenOptions, cfg app.DeskConfig) error {
	archive := cfg.Archive
	if lo.Addr == "" {
		lo.Addr = httpapi.DefaultAddr
	}
	if err := lo.Check(); err != nil {
		return usageError{err} // before the data directory is opened: nothing started
	}
	if err := httpapi.CheckPublicNames(lo.publicNames); err != nil {
		return usageError{err}
	}
	certNames, err := httpapi.CertNames(lo.TLSCert)
	if err != nil {
		return usageError{err}
	}
	web := httpapi.ServerConfig{Hosts: httpapi.HostPolicy{PublicNames: append(lo.publicNames, certNames...)},
		InsecureHTTP: lo.Plain()}
	desk, srv, err := c.openServerWith(ctx, cfg, web)
	if err != nil {
		return err
	}
	defer desk.Close()
	return httpapi.ListenAndServe(ctx, lo.ListenConfig, srv, c.logger, func(url string) {
		desk.SetLinkBase(linkBase(url, lo))
		if archive != "" {
			// The secret rides in the fragment: a browser never sends it in a
			// request line, so no log or proxy keeps it.
			fmt.Fprintf(c.stdout, "Release Desk is at %s/ (offline review of %s: read-only)\n"+
				"Open this link to review it (it works once): %s\n", url, archive, srv.ReviewURL(url))
			return
		}
		if cfg.Store != "" {
			fmt.Fprintf(c.stdout, "Release Desk is at %s/ (log: %s; this instance's cache: %s)\n", url,
				events.RedactURL(cfg.Store), filepath.Join(c.dataDir, app.PgCacheDir))
			return
		}
		fmt.Fprintf(c.stdout, "Release Desk is at %s/ (data: %s)\n", url, c.dataDir)
	})
}

// linkBase is where the links in messages lead: the first public name
// when one is given (people reach the desk by it, over TLS: its own, or
// the proxy's that --insecure-http sits behind), else the address served.
func linkBase(served string, lo listenOptions) string {
	if len(lo.publicNames) == 0 {
		return served
	}
	return "https://" + lo.publicNames[0]
}

// serveOnPostgres is why the window does not run a desk on PostgreSQL.
const serveOnPostgres = "the window is one person's desk on this computer; a team's server on PostgreSQL runs with " +
	"releasedesk serve --store (and --secret-key-file), and the window joins it with --server"

func (c *cli) serveCommand() *cobra.Command {
	var lo listenOptions
	var archive string
	var lease time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the UI and the JSON API over HTTP (loopback by default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if archive != "" {
				return c.serve(cmd.Context(), lo, archive)
			}
			cfg, err := c.deskConfig(cmd)
			if err != nil {
				return err
			}
			if lease < 3*time.Second {
				return usageError{fmt.Errorf("--lease %v: is shorter than 3s, which a renewal every third of it cannot keep", lease)}
			}
			cfg.LeaseTTL = lease
			return c.serveDesk(cmd.Context(), lo, cfg)
		},
	}
	cmd.Flags().DurationVar(&lease, "lease", runner.DefaultLeaseTTL, "on a PostgreSQL --store with several instances: "+
		"how long an instance's hold on a deployment lasts unrenewed; another instance takes over the deployment "+
		"of one that died after it")
	cmd.Flags().StringVar(&archive, "archive", "", "serve a JSONL export read-only (offline review) instead of the data directory")
	c.secretKeyFlag(cmd)
	lo.flags(cmd)
	return cmd
}

func (c *cli) openCommand() *cobra.Command {
	var lo listenOptions
	var inWindow bool
	cmd := &cobra.Command{
		Use:   "open FILE.jsonl",
		Short: "Review an exported log offline: verified, then served read-only",
		Long: `Verifies FILE.jsonl (an export of releasedesk events export or of the audit
screen) and serves every screen over it read-only: nobody signs in, nothing
can be changed, and no host is reached. A file whose chain does not verify
is refused with exit code 3. It prints a link with a one-time secret: open
it in a browser; without it every route answers 401, so no other page the
reviewer visits can read the archive.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("open takes one file, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if inWindow {
				return c.reviewInWindow(cmd.Context(), args[0])
			}
			return c.serve(cmd.Context(), lo, args[0])
		},
	}
	lo.flags(cmd)
	cmd.Flags().BoolVar(&inWindow, "window", false, "review in the desktop window instead of a browser: "+
		"nothing listens on the network, so no link is needed")
	return cmd
}

// reviewInWindow opens the archive in the desktop window. The window's
// page reaches the handler in-process, never over the network, so it
// reads without the review link's secret (httpapi.fromWindow).
func (c *cli) reviewInWindow(ctx context.Context, archive string) error {
	if !window.Built || !window.HasDisplay() {
		why := window.ErrNoWindow
		if window.Built {
			why = errors.New("no display found: review in a browser with `releasedesk open FILE` instead")
		}
		return &exitError{code: exitNoWindow, err: fmt.Errorf("--window: %w", why)}
	}
	// Offline review stays on this computer: the window joins no server.
	return c.runWindow(ctx, window.DesktopOptions{OpenLocal: c.openLocalDesk(archive), Logger: c.logger,
		Language: window.Language()})
}

// stdoutOrFile opens --out, or returns stdout when it is empty or "-".
func (c *cli) stdoutOrFile(path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return c.stdout, func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("--out: %w", err)
	}
	return f, func() error {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, nil
}
