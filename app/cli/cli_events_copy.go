package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"releasedesk/app"
	"releasedesk/events"
)

func (c *cli) eventsCopyCommand() *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "copy --from STORE --to STORE",
		Short: "Copy the whole log into an empty store: a data directory to PostgreSQL, or back",
		Long: `Copies every event of --from into --to as stored: positions, times and
hashes, so the copy verifies as the original does and the next event
continues its chain. Each side is a data directory or a PostgreSQL database
(postgres://user@host/db). No server may be running on either.

The source's hash chain is verified while it is read: at the first bad
position the copy stops, exit code 3 names it, and the target is left
empty. The target must hold no event (a data directory without a log gets
one). The copy is all or nothing: a failure, or a crash, leaves the target
empty (on PostgreSQL one transaction; a data directory is emptied again at
once, or by the next open). After the copy the target is verified too.`,
		Example: `  releasedesk events copy --from ~/.local/share/releasedesk --to postgres://desk@db.example.com/releasedesk
  releasedesk events copy --from postgres://desk@db.example.com/releasedesk --to ./restored`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required(cmd, "from", "to"); err != nil {
				return err
			}
			if sameStore(from, to) {
				return usageError{fmt.Errorf("--from and --to are both %s: copy into another store", storeName(from))}
			}
			ctx := cmd.Context()
			src, err := app.OpenExistingLogAt(ctx, from, c.logger)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			defer src.Close()
			dst, err := app.OpenCopyTarget(ctx, to, c.logger)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			defer dst.Close()
			rep, err := events.Copy(ctx, src, dst)
			if err != nil {
				if errors.Is(err, events.ErrChainBroken) {
					return &exitError{code: ExitVerify, err: err}
				}
				return err
			}
			check, err := events.Verify(ctx, dst)
			if err != nil {
				return fmt.Errorf("verify the copy: %w", err)
			}
			if !check.OK() || check.Head != rep.Head {
				return &exitError{code: ExitVerify, err: fmt.Errorf("the copy in %s does not verify: %w", storeName(to), check.Err())}
			}
			fmt.Fprintf(c.stdout, "copied %d events (%d %s) from %s to %s\nhead %d %s, chain verified on both sides\n",
				rep.Count, rep.Streams, plural(rep.Streams, "stream", "streams"), storeName(from), storeName(to), rep.Head.Position, rep.Head.Hash)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the log to copy: a data directory or a postgres:// URL")
	cmd.Flags().StringVar(&to, "to", "", "where to copy it, holding no event: a data directory or a postgres:// URL")
	return cmd
}

// sameStore reports whether two addresses name one store as written (a
// database named two ways is refused by the copy as not empty).
func sameStore(a, b string) bool {
	if events.IsPostgresURL(a) || events.IsPostgresURL(b) {
		return a == b
	}
	x, errx := filepath.Abs(a)
	y, erry := filepath.Abs(b)
	return errx == nil && erry == nil && x == y
}

func plural(n uint64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
