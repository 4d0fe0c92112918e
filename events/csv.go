package events

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// csvHeader is the audit view's column row, in AuditRow's order.
var csvHeader = []string{"position", "time", "actor", "action", "project", "environment", "release", "version", "commit", "host", "summary"}

// ExportCSV writes the audit view of r as CSV: a header row, then one row per
// event (or per event filter keeps; filter sees upcast envelopes), filled by
// f (nil means default rows). Times are in FormatTime's form. It returns the
// number of event rows written. Like ExportJSONL it is a snapshot: it stops
// at the head read when it starts.
//
// Every text cell is guarded against formula injection: auditors open these
// files in spreadsheets, which run a cell starting with = + - @ (or a tab or
// carriage return before one) as a formula, so an actor named
// "=HYPERLINK(...)" could exfiltrate data or run commands on the auditor's
// machine. Such cells get a leading apostrophe, which spreadsheets show as
// text and hide.
func ExportCSV(ctx context.Context, r Reader, w io.Writer, f *Formatters, filter func(Envelope) bool) (uint64, error) {
	bw := bufio.NewWriterSize(w, exportBufferSize)
	cw := csv.NewWriter(bw)
	if err := cw.Write(csvHeader); err != nil {
		return 0, fmt.Errorf("events: export csv: %w", err)
	}
	last := r.Head().Position
	var (
		n, seen uint64
		row     AuditRow
		record  = make([]string, len(csvHeader)) // reused: csv.Writer keeps nothing
	)
	err := r.ReadAll(ctx, 1, func(e Envelope) error {
		if e.Position > last {
			return errStopWalk
		}
		if seen++; seen%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if filter != nil && !filter(e) {
			return nil
		}
		f.fill(e, &row)
		record[0] = strconv.FormatUint(row.Position, 10)
		record[1] = FormatTime(row.Time)
		record[2] = safeCell(row.Actor)
		record[3] = safeCell(row.Action)
		record[4] = safeCell(row.Project)
		record[5] = safeCell(row.Environment)
		record[6] = safeCell(row.Release)
		record[7] = safeCell(row.Version)
		record[8] = safeCell(row.Commit)
		record[9] = safeCell(row.Host)
		record[10] = safeCell(row.Summary)
		n++
		return cw.Write(record)
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return n, fmt.Errorf("events: export csv: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("events: export csv: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("events: export csv: %w", err)
	}
	return n, nil
}

// safeCell prefixes an apostrophe to text a spreadsheet would take for a
// formula (see ExportCSV). The apostrophe is visible in a text editor; that
// is the accepted cost (OWASP's advice for CSV injection).
func safeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
