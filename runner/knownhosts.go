package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"releasedesk/events/text"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// ErrHostKey is matched (errors.Is) by *UnknownHostKeyError and
// *ChangedHostKeyError: the host's key is not the one on file, and nothing
// ran on it.
var ErrHostKey = errors.New("runner: host key not trusted")

// ErrBadHostAddr: an address is not user@host:port.
var ErrBadHostAddr = text.Errorf("runner: bad host address")

// UnknownHostKeyError: the host offered a key and the app's known_hosts
// has none for it. An admin may trust it (TrustHostKey, an event).
type UnknownHostKeyError struct {
	Host        string // host:port as dialled
	KeyType     string // ssh-ed25519, ...
	Fingerprint string // SHA256:...
	Key         string // authorized_keys format: "<type> <base64>"
}

func (e *UnknownHostKeyError) Error() string { return e.Text().String() }
func (e *UnknownHostKeyError) Text() text.Text {
	return text.New("host %s offers an unknown %s key %s: not in known_hosts, refused until an admin trusts it", e.Host, e.KeyType, e.Fingerprint)
}

// Is makes errors.Is(err, ErrHostKey) true.
func (e *UnknownHostKeyError) Is(target error) bool { return target == ErrHostKey }

// ChangedHostKeyError: the host offered a key other than the one(s) on
// file: a reinstalled server or a man in the middle.
type ChangedHostKeyError struct {
	Host        string
	KeyType     string
	Fingerprint string   // of the offered key
	Key         string   // the offered key, authorized_keys format
	Known       []string // fingerprints on file for this host
}

func (e *ChangedHostKeyError) Error() string { return e.Text().String() }
func (e *ChangedHostKeyError) Text() text.Text {
	return text.New("host %s offers a CHANGED %s key %s (known: %s): refused", e.Host, e.KeyType, e.Fingerprint, strings.Join(e.Known, ", "))
}

// Is makes errors.Is(err, ErrHostKey) true.
func (e *ChangedHostKeyError) Is(target error) bool { return target == ErrHostKey }

// ParseHostAddr splits "user@host:port" (port 22 if absent; an IPv6 host in
// brackets). The user is required. Empty parts, a leading '-' in user or
// host, spaces and control characters are refused: user and host reach
// ssh's command line (rsync -e).
func ParseHostAddr(addr string) (user, host string, port int, err error) {
	bad := func(why text.Text) (string, string, int, error) {
		return "", "", 0, text.Errorf("%w %q: %s", ErrBadHostAddr, addr, why)
	}
	if hasControl(addr) || strings.ContainsAny(addr, " \t") {
		return bad(text.New("space or control character"))
	}
	user, hp, ok := strings.Cut(addr, "@")
	if !ok || user == "" {
		return bad(text.New("want user@host:port"))
	}
	if !hostUserRe.MatchString(user) {
		return bad(text.New("bad user name"))
	}
	port = 22
	switch {
	case strings.HasPrefix(hp, "["):
		end := strings.Index(hp, "]")
		if end < 0 {
			return bad(text.New("unclosed '['"))
		}
		host, rest := hp[1:end], hp[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return bad(text.New("junk after ']'"))
			}
			if port, err = parsePort(rest[1:]); err != nil {
				return bad(text.Of(err))
			}
		}
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return bad(text.New("brackets hold an IPv6 address"))
		}
		return user, host, port, nil
	case strings.Count(hp, ":") > 1:
		return bad(text.New("an IPv6 address needs brackets: user@[::1]:22"))
	}
	host, p, hasPort := strings.Cut(hp, ":")
	if hasPort {
		if port, err = parsePort(p); err != nil {
			return bad(text.Of(err))
		}
	}
	if host == "" {
		return bad(text.New("empty host"))
	}
	if !hostNameRe.MatchString(host) {
		return bad(text.New("bad host name"))
	}
	return user, host, port, nil
}

var (
	hostUserRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)
	hostNameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)
)

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 || strings.HasPrefix(s, "+") {
		return 0, text.Errorf("port %q: want 1-65535", s)
	}
	return p, nil
}

// hostPort parses "user@host:port" or "host:port" (or "host") into the
// "host:port" that is dialled and looked up in known_hosts.
func hostPort(addr string) (string, error) {
	if strings.Contains(addr, "@") {
		_, h, p, err := ParseHostAddr(addr)
		if err != nil {
			return "", err
		}
		return net.JoinHostPort(h, strconv.Itoa(p)), nil
	}
	_, h, p, err := ParseHostAddr("x@" + addr)
	if err != nil {
		return "", text.Errorf("%w %q: want host:port", ErrBadHostAddr, addr)
	}
	return net.JoinHostPort(h, strconv.Itoa(p)), nil
}

// errScanned stops a handshake once the host key is seen.
var errScanned = errors.New("host key scanned")

// ScanHostKey connects to addr ("host:port" or "user@host:port"), reads
// the host key it offers and hangs up without authenticating. timeout
// bounds the whole exchange (default 10 s).
func ScanHostKey(ctx context.Context, addr string, timeout time.Duration) (keyType, fingerprint, authorizedKey string, err error) {
	hp, err := hostPort(addr)
	if err != nil {
		return "", "", "", err
	}
	var got ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User: "releasedesk-scan",
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			got = key
			return errScanned
		},
	}
	conn, _, err := handshake(ctx, hp, cfg, timeout)
	if conn != nil {
		conn.Close()
	}
	if got == nil {
		if err == nil {
			err = errors.New("no host key offered")
		}
		return "", "", "", fmt.Errorf("scan host key of %s: %w", hp, err)
	}
	return got.Type(), ssh.FingerprintSHA256(got), authorizedKeyString(got), nil
}

func authorizedKeyString(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// knownHostsMu serialises this process's writes of known_hosts files.
var knownHostsMu sync.Mutex

// TrustHostKey records authorizedKey ("<type> <base64>") as the key of addr
// ("host:port" or "user@host:port") in the known_hosts file: lines naming
// that host with a key of the same type are replaced (the host is taken
// out of a line that names other hosts too), other lines are kept. The
// file is rewritten atomically (temp file, fsync, rename), mode 0600.
func TrustHostKey(knownHostsPath, addr, authorizedKey string) error {
	hp, err := hostPort(addr)
	if err != nil {
		return err
	}
	key, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		return fmt.Errorf("trust host key: %w", err)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return fmt.Errorf("trust host key: one key expected")
	}
	pattern := knownhosts.Normalize(hp)

	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	old, err := os.ReadFile(knownHostsPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var out []string
	for _, line := range strings.Split(string(old), "\n") {
		if line == "" {
			continue
		}
		out = append(out, dropHost(line, pattern, key.Type())...)
	}
	out = append(out, knownhosts.Line([]string{hp}, key))
	return writeFileAtomic(knownHostsPath, []byte(strings.Join(out, "\n")+"\n"), 0o600)
}

// dropHost returns line without pattern when it holds a key of keyType
// for it (nothing if no host is left), else line unchanged.
func dropHost(line, pattern, keyType string) []string {
	t := strings.TrimSpace(line)
	if t == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, "@") || strings.HasPrefix(t, "|") {
		return []string{line}
	}
	fields := strings.Fields(t)
	if len(fields) < 3 || fields[1] != keyType {
		return []string{line}
	}
	hosts := strings.Split(fields[0], ",")
	kept := hosts[:0:0]
	for _, h := range hosts {
		if h != pattern {
			kept = append(kept, h)
		}
	}
	if len(kept) == len(hosts) {
		return []string{line}
	}
	if len(kept) == 0 {
		return nil
	}
	return []string{strings.Join(kept, ",") + " " + strings.Join(fields[1:], " ")}
}

// writeFileAtomic writes data to a temp file next to p and renames it over p.
func writeFileAtomic(p string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(p)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// ensureKnownHosts creates an empty known_hosts (and its dir) if missing.
func ensureKnownHosts(p string) error {
	if p == "" {
		return errors.New("runner: no known_hosts path")
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// hostKeyCheck wraps the known_hosts callback: it remembers the offered
// key and classifies a refusal into the typed errors.
type hostKeyCheck struct {
	db  *knownhosts.HostKeyDB
	err error // set when the key was refused
}

func (c *hostKeyCheck) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := c.db.HostKeyCallback()(hostname, remote, key)
	if err == nil {
		return nil
	}
	fp := ssh.FingerprintSHA256(key)
	switch {
	case knownhosts.IsHostKeyChanged(err):
		ce := &ChangedHostKeyError{Host: hostname, KeyType: key.Type(), Fingerprint: fp, Key: authorizedKeyString(key)}
		var ke *knownhostsKeyError
		if errors.As(err, &ke) {
			for _, w := range ke.Want {
				ce.Known = append(ce.Known, ssh.FingerprintSHA256(w.Key))
			}
		}
		c.err = ce
	case knownhosts.IsHostUnknown(err):
		c.err = &UnknownHostKeyError{Host: hostname, KeyType: key.Type(), Fingerprint: fp, Key: authorizedKeyString(key)}
	default:
		c.err = fmt.Errorf("%w: %s: %v", ErrHostKey, hostname, err)
	}
	return c.err
}

type knownhostsKeyError = xknownhosts.KeyError
