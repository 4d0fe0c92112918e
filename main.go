// Command releasedesk is Release Desk: a Git release system with a desktop
// window and the same UI served on localhost. Everything testable lives in
// the packages; main only wires the embedded frontend and the signals.
package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"releasedesk/app/cli"
)

// The built frontend. frontend/dist/.gitkeep is committed so a fresh clone
// compiles before the first `npm run build`.
//
//go:embed all:frontend/dist
var frontendDist embed.FS

func main() {
	cli.AttachConsole() // Windows: the terminal it was started from, if any
	assets, err := fs.Sub(frontendDist, "frontend/dist")
	if err != nil {
		fmt.Fprintln(os.Stderr, "releasedesk: embedded frontend:", err)
		os.Exit(cli.ExitFailure)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, assets, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
