package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxArchiveLine bounds one line of an archive. The largest real line is an
// event with MaxDataBytes of data plus a few names; anything far longer is
// not an export, and refusing it early gives a clear error instead of a
// large allocation.
const maxArchiveLine = 2*MaxDataBytes + 64<<10

// OpenArchiveOptions tune OpenArchive.
type OpenArchiveOptions struct {
	// Upcasters lift old schemas when the archive is read, as a store does.
	Upcasters *Upcasters
}

// ReadArchive parses a JSON Lines export strictly: a header line naming the
// format and version, then one envelope per line, with no unknown field, no
// blank line and no trailing garbage. Any fault is an error wrapping
// ErrBadArchive that names the line. It does not verify the chain: see
// VerifyArchive and OpenArchive.
func ReadArchive(r io.Reader) (ArchiveHeader, []Envelope, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		hdr  ArchiveHeader
		envs []Envelope
		line int
	)
	for {
		text, complete, err := readLine(br)
		if err != nil {
			return hdr, nil, fmt.Errorf("%w: line %d: %w", ErrBadArchive, line+1, err)
		}
		if text == nil {
			break
		}
		line++
		if !complete {
			// The last line lacks its newline. A whole object there is only a
			// missing newline; anything else is a file cut short.
			if !json.Valid(text) {
				return hdr, nil, badLine(line, "truncated: the file ends in the middle of this line")
			}
		}
		if len(bytes.TrimSpace(text)) == 0 {
			return hdr, nil, badLine(line, "empty line")
		}
		if line == 1 {
			if hdr, err = parseHeader(text); err != nil {
				return hdr, nil, err
			}
			continue
		}
		var e Envelope
		if err := strictDecode(text, &e); err != nil {
			return hdr, nil, badLine(line, "bad event: %v", err)
		}
		envs = append(envs, e)
	}
	if line == 0 {
		return hdr, nil, fmt.Errorf("%w: empty file: no header line", ErrBadArchive)
	}
	return hdr, envs, nil
}

// readLine returns the next line without its newline, whether it ended in
// one, and nil text at the end of input.
func readLine(br *bufio.Reader) (text []byte, complete bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxArchiveLine {
			return nil, false, fmt.Errorf("longer than %d bytes", maxArchiveLine)
		}
		switch {
		case err == nil:
			return buf[:len(buf)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) == 0 {
				return nil, false, nil
			}
			return buf, false, nil
		default:
			return nil, false, err
		}
	}
}

func parseHeader(text []byte) (ArchiveHeader, error) {
	var hdr ArchiveHeader
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(text, &probe); err != nil {
		return hdr, badLine(1, "bad JSON: %v", err)
	}
	if _, ok := probe["format"]; !ok {
		return hdr, badLine(1, "missing header: the first line must be {\"format\":%q,...}", ArchiveFormat)
	}
	if err := strictDecode(text, &hdr); err != nil {
		return hdr, badLine(1, "bad header: %v", err)
	}
	if hdr.Format != ArchiveFormat {
		return hdr, badLine(1, "unknown format %q, want %q", hdr.Format, ArchiveFormat)
	}
	if hdr.FormatVersion != ArchiveVersion {
		return hdr, badLine(1, "format version %d is not supported (this build reads %d)", hdr.FormatVersion, ArchiveVersion)
	}
	return hdr, nil
}

// strictDecode decodes exactly one JSON value into v, refusing unknown
// fields and anything after the value.
func strictDecode(text []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

func badLine(line int, format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrBadArchive, line, fmt.Sprintf(format, args...))
}

// readArchiveFile opens path read-only (an archive is evidence: it is never
// written) and parses it.
func readArchiveFile(path string) (ArchiveHeader, []Envelope, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return ArchiveHeader{}, nil, fmt.Errorf("events: archive: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return ArchiveHeader{}, nil, fmt.Errorf("%w: %s is a directory or device, not an exported file", ErrBadArchive, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return ArchiveHeader{}, nil, fmt.Errorf("events: archive: %w", err)
	}
	defer f.Close()
	hdr, envs, err := ReadArchive(f)
	if err != nil {
		return hdr, nil, fmt.Errorf("%s: %w", path, err)
	}
	return hdr, envs, nil
}

// verifyArchive checks a parsed archive against its own header: the chain,
// the header's head (for an unfiltered file, where the tail must reach it),
// and the count.
func verifyArchive(ctx context.Context, hdr ArchiveHeader, envs []Envelope) (Report, error) {
	src := &sliceLog{envs: envs, durable: Head{Position: hdr.LastPosition, Hash: hdr.LastHash}}
	rep, err := verifyChain(ctx, src, hdr.Filtered, "the archive's header")
	if err != nil || !rep.OK() {
		return rep, err
	}
	if n := uint64(len(envs)); n != hdr.Count {
		if hdr.Filtered && n < hdr.Count {
			rep.Problem = &Problem{Position: rep.Head.Position + 1, Kind: KindMissing, Reason: fmt.Sprintf(
				"the header counts %d events but the file holds %d; a filtered export cannot tell which are missing", hdr.Count, n)}
			return rep, nil
		}
		return rep, fmt.Errorf("%w: the header counts %d events but the file holds %d", ErrBadArchive, hdr.Count, n)
	}
	if rep.Head.Position > hdr.LastPosition {
		return rep, fmt.Errorf("%w: the header says the log ends at position %d but the file reaches %d", ErrBadArchive, hdr.LastPosition, rep.Head.Position)
	}
	return rep, nil
}

// VerifyArchive parses the export at path and verifies its chain against its
// header. A broken chain is reported in the Report (with a nil error); an
// unreadable or malformed file is an error wrapping ErrBadArchive.
func VerifyArchive(path string) (Report, error) {
	hdr, envs, err := readArchiveFile(path)
	if err != nil {
		return Report{}, err
	}
	return verifyArchive(context.Background(), hdr, envs)
}

// OpenArchive parses and verifies the export at path and serves it as a
// read-only MemStore, readable through Reader like the live log; Append on
// it fails with ErrReadOnly. A broken chain returns the Report and an error
// wrapping ErrChainBroken that names the first bad position: an archive
// that does not verify is not served.
func OpenArchive(path string, opts OpenArchiveOptions) (*MemStore, Report, error) {
	hdr, envs, err := readArchiveFile(path)
	if err != nil {
		return nil, Report{}, err
	}
	rep, err := verifyArchive(context.Background(), hdr, envs)
	if err != nil {
		return nil, rep, err
	}
	if !rep.OK() {
		return nil, rep, fmt.Errorf("%s: %w", path, rep.Err())
	}
	return newReadOnlyMemStore(envs, Options{Upcasters: opts.Upcasters, ReadOnly: true}), rep, nil
}

// sliceLog is a RawReader over parsed envelopes, in file order, with the
// header's head as its durable head, so Verify can check a file exactly as
// it checks a store.
type sliceLog struct {
	envs    []Envelope
	durable Head
}

func (s *sliceLog) ReadRaw(ctx context.Context, from uint64, fn func(Envelope) error) error {
	i := 0
	for i < len(s.envs) && s.envs[i].Position < from {
		i++
	}
	for ; i < len(s.envs); i++ {
		if err := fn(s.envs[i]); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (s *sliceLog) DurableHead() (Head, error) { return s.durable, nil }
