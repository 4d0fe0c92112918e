package runner

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// A delta staging on a remote host gets its changed files as a tar
// stream over the host's open SSH connection (Executor.RunStdin into
// Layout.Receive): no second handshake, no rsync process on either
// side, and one session instead of rsync's protocol round trips.

// ErrBadTarEntry: a path of a delta cannot be sent safely (outside the
// tree, under a symlink, or not a regular file, symlink or directory).
var ErrBadTarEntry = errors.New("runner: refused tar entry")

// TarStats are the figures of a tar transfer, as the transfer step's
// output records them (TarStats.Line).
type TarStats struct {
	Bytes     int64 // the tar stream's size: every byte written to the command's stdin
	Files     int64 // regular files in the stream
	Symlinks  int64 // symlinks in the stream
	Dirs      int64 // directories of the delta (made on the host, not in the stream)
	FileBytes int64 // file data in the stream
}

// tarStatsPrefix starts the line the runner writes into a tar transfer's
// output.
const tarStatsPrefix = "releasedesk: tar stream sent: "

// Line is the line recorded in a tar transfer's output once the
// host's tar has taken the whole stream.
func (s TarStats) Line() string {
	return fmt.Sprintf("%s%d bytes (%d files, %d symlinks, %d dirs, %d bytes of file data)",
		tarStatsPrefix, s.Bytes, s.Files, s.Symlinks, s.Dirs, s.FileBytes)
}

// writeDeltaTar writes the entries of paths (relative to root, a
// DeltaPlan's Send) as a tar stream to w: regular files with their mode
// less the write bits (read-only like a sealed release, as rsync's
// --chmod=Fa-w sends them) and symlinks with their target, owned by 0:0,
// in the order given. Directories are not in the stream (the host makes
// them, see Layout.Receive): they are counted. Every path must pass
// ValidateRelPath (so it stays inside the staging dir) and lie under real
// directories of root (never under a symlink); any other file type is
// refused. Bytes is not set: the caller counts what it sent.
func writeDeltaTar(w io.Writer, root string, paths []string) (TarStats, error) {
	var st TarStats
	if !filepath.IsAbs(root) {
		return st, fmt.Errorf("%w: tree %q is not absolute", ErrBadTarEntry, root)
	}
	realDir := map[string]bool{}
	// Buffered: tar writes a header, the data and the padding of each
	// file apiece, and unbuffered each write became an SSH packet and a
	// write on the host's pipe of its own (three per file); in 256 KiB
	// blocks the stream fills whole packets.
	bw := bufio.NewWriterSize(w, 256<<10)
	tw := tar.NewWriter(bw)
	buf := make([]byte, 64<<10)
	for _, p := range paths {
		if err := ValidateRelPath(p); err != nil {
			return st, fmt.Errorf("%w: %v", ErrBadTarEntry, err)
		}
		for i := 0; i < len(p); i++ {
			if p[i] != '/' || realDir[p[:i]] {
				continue
			}
			fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p[:i])))
			if err != nil {
				return st, err
			}
			if !fi.IsDir() {
				return st, fmt.Errorf("%w: %s: %s is not a directory", ErrBadTarEntry, p, p[:i])
			}
			realDir[p[:i]] = true
		}
		full := filepath.Join(root, filepath.FromSlash(p))
		fi, err := os.Lstat(full)
		if err != nil {
			return st, err
		}
		hdr := &tar.Header{Name: p, Uid: 0, Gid: 0, ModTime: fi.ModTime().Truncate(time.Second)}
		switch t := fi.Mode().Type(); {
		case t == fs.ModeDir:
			st.Dirs++
			continue
		case t == fs.ModeSymlink:
			target, err := os.Readlink(full)
			if err != nil {
				return st, err
			}
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, target, 0o777
			if err := tw.WriteHeader(hdr); err != nil {
				return st, err
			}
			st.Symlinks++
		case t == 0:
			hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeReg, fi.Size(), int64(fi.Mode().Perm()&^0o222)
			f, err := os.Open(full)
			if err != nil {
				return st, err
			}
			err = tw.WriteHeader(hdr)
			var n int64
			if err == nil {
				// The header promised Size bytes: a file that changed
				// size meanwhile fails the stream (ErrWriteTooLong, or
				// the short count below).
				n, err = io.CopyBuffer(tw, f, buf)
			}
			f.Close()
			if err == nil && n != hdr.Size {
				err = fmt.Errorf("%s: %d bytes read, %d expected", p, n, hdr.Size)
			}
			if err != nil {
				return st, err
			}
			st.Files++
			st.FileBytes += n
		default:
			return st, fmt.Errorf("%w: %s: unsupported file type %s", ErrBadTarEntry, p, t)
		}
	}
	if err := tw.Close(); err != nil {
		return st, err
	}
	return st, bw.Flush()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
