package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"releasedesk/app"
	"releasedesk/events"
)

func (c *cli) eventsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Inspect the event log: verify its hash chain, export it, count it, copy it to another store",
	}
	cmd.AddCommand(c.eventsVerifyCommand(), c.eventsExportCommand(), c.eventsStatsCommand(), c.eventsCopyCommand())
	return cmd
}

func (c *cli) eventsVerifyCommand() *cobra.Command {
	var archive string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Walk the hash chain; exit 3 and name the first bad position if it is broken",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var report events.Report
			if archive != "" {
				r, err := events.VerifyArchive(archive)
				if err != nil {
					return err
				}
				report = r
			} else {
				store, err := app.OpenExistingLogAt(cmd.Context(), c.logAddress(), c.logger)
				if err != nil {
					return err
				}
				defer store.Close()
				if report, err = events.Verify(cmd.Context(), store); err != nil {
					return err
				}
			}
			if !report.OK() {
				return &exitError{code: ExitVerify, err: report.Err()}
			}
			fmt.Fprintf(c.stdout, "ok: %d events, chain verified, head %d %s\n", report.Count, report.Head.Position, report.Head.Hash)
			return nil
		},
	}
	cmd.Flags().StringVar(&archive, "archive", "", "verify an exported JSONL file instead of the log (--store or --data)")
	return cmd
}

func (c *cli) eventsExportCommand() *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the whole log as JSON Lines (verifiable) or CSV (audit rows)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "jsonl" && format != "csv" {
				return usageError{fmt.Errorf("--format: %q is not one of jsonl, csv", format)}
			}
			store, err := app.OpenExistingLogAt(cmd.Context(), c.logAddress(), c.logger)
			if err != nil {
				return err
			}
			defer store.Close()
			w, finish, err := c.stdoutOrFile(out)
			if err != nil {
				return err
			}
			var n uint64
			if format == "jsonl" {
				var sum events.ExportSummary
				sum, err = events.ExportJSONL(cmd.Context(), store, w, events.ExportOptions{})
				n = sum.Header.Count
			} else {
				n, err = events.ExportCSV(cmd.Context(), store, w, events.NewFormatters(), nil)
			}
			if ferr := finish(); err == nil {
				err = ferr
			}
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if out != "" && out != "-" {
				fmt.Fprintf(c.stderr, "exported %d events to %s\n", n, out)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "jsonl", "jsonl or csv")
	cmd.Flags().StringVar(&out, "out", "", "file to write (must not exist); default standard output")
	return cmd
}

func (c *cli) eventsStatsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Count the log: events, bytes, streams, first and last time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := app.OpenExistingLogAt(cmd.Context(), c.logAddress(), c.logger)
			if err != nil {
				return err
			}
			defer store.Close()
			st, err := store.Stats(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(c.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			fmt.Fprintf(c.stdout, "events:  %d\nbytes:   %d\nstreams: %d\n", st.Count, st.Bytes, st.Streams)
			if st.Count > 0 {
				fmt.Fprintf(c.stdout, "first:   %s\nlast:    %s\n", events.FormatTime(st.FirstTime), events.FormatTime(st.LastTime))
			}
			fmt.Fprintf(c.stdout, "head:    %d %s\n", st.Head.Position, st.Head.Hash)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
