package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Credentials are the secrets behind the people of the log: password hashes
// (argon2id, PHC strings) and bearer-token hashes (sha256). They are not
// events, so an exported audit log never carries them; the events record
// only that a password was set or a token created or revoked.
//
// The store is one JSON file in the data directory (credentials.json),
// mode 0600, rewritten whole on each change: a temporary file in the same
// directory, fsync, rename over the old one, fsync of the directory. A
// mutex serialises writers; the in-memory state changes only once the
// file is safely written, and readers (every API request looks its token
// up) wait only for that swap, never for a write.
//
// The store and the log cannot change in one transaction, so the order
// keeps every capability recorded: a token is stored before its
// token.created event (a stored token without its event is refused by
// Authenticate, which asks the Users projection too) and removed after its
// token.revoked; a password's event is appended before its hash is stored.
type Credentials struct {
	path  string
	state StateStore // on PostgreSQL, instead of path (credentials_state.go)
	// reloaded is when the state was last read from the database.
	reloadMu sync.Mutex
	reloaded time.Time

	wmu       sync.Mutex             // one writer at a time
	mu        sync.RWMutex           // guards the maps, which are replaced, never modified
	passwords map[string]string      // user -> PHC string
	tokens    map[string]credToken   // id -> token
	byHash    map[[32]byte]credToken // sha256 of the secret -> token
}

// credToken is a bearer token as stored: its hash, never its secret.
type credToken struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Kind      string    `json:"kind"`
	Name      string    `json:"name,omitempty"`
	Hash      string    `json:"sha256"` // hex
	Created   time.Time `json:"created"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

func (t credToken) expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// credFile is the file's shape.
type credFile struct {
	Version   int               `json:"version"`
	Passwords map[string]string `json:"passwords"`
	Tokens    []credToken       `json:"tokens"`
}

const credFileVersion = 1

// CredentialsFile is the credential store's name in the data directory.
const CredentialsFile = "credentials.json"

// CredentialsPath is where the data directory keeps its credential store.
func (d DataDir) CredentialsPath() string { return filepath.Join(d.Path, CredentialsFile) }

// OpenCredentials reads the credential store at path. A missing file is an
// empty store (the file is written on the first change); a file that cannot
// be read or parsed is an error, never silently an empty store. A file
// readable by others is narrowed to 0600.
func OpenCredentials(path string) (*Credentials, error) {
	if path == "" {
		return nil, errors.New("credentials: empty path")
	}
	c := emptyCredentials()
	c.path = path
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return nil, fmt.Errorf("credentials: %s is readable by others and could not be narrowed: %w", path, err)
			}
		}
	}
	if err := c.load(data, path); err != nil {
		return nil, err
	}
	return c, nil
}

// load parses a store's bytes (where names them in errors) and makes them
// the store's state.
func (c *Credentials) load(data []byte, where string) error {
	var f credFile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("credentials: %s: %w", where, err)
	}
	if f.Version != credFileVersion {
		return fmt.Errorf("credentials: %s: version %d, this Release Desk reads version %d", where, f.Version, credFileVersion)
	}
	passwords := make(map[string]string, len(f.Passwords))
	for user, phc := range f.Passwords {
		if _, err := parsePHC(phc); err != nil {
			return fmt.Errorf("credentials: %s: password of %s: %w", where, user, err)
		}
		passwords[user] = phc
	}
	tokens := make(map[string]credToken, len(f.Tokens))
	for _, t := range f.Tokens {
		if _, err := decodeTokenHash(t.Hash); err != nil || t.ID == "" || t.User == "" {
			return fmt.Errorf("credentials: %s: token %q: bad record", where, t.ID)
		}
		tokens[t.ID] = t
	}
	c.swap(&credChange{passwords: passwords, tokens: tokens})
	return nil
}

// swap makes ch the store's state.
func (c *Credentials) swap(ch *credChange) {
	byHash := make(map[[32]byte]credToken, len(ch.tokens))
	for _, t := range ch.tokens {
		if h, err := decodeTokenHash(t.Hash); err == nil {
			byHash[h] = t
		}
	}
	c.mu.Lock()
	c.passwords, c.tokens, c.byHash = ch.passwords, ch.tokens, byHash
	c.mu.Unlock()
}

func decodeTokenHash(s string) ([32]byte, error) {
	var h [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, errors.New("bad token hash")
	}
	copy(h[:], b)
	return h, nil
}

// passwordHash returns a user's PHC string.
func (c *Credentials) passwordHash(user string) (string, bool) {
	c.freshen(time.Time{}) // a password changed on another instance counts at once
	c.mu.RLock()
	defer c.mu.RUnlock()
	phc, ok := c.passwords[user]
	return phc, ok
}

// tokenByHash finds a token by the sha256 of its secret.
func (c *Credentials) tokenByHash(h [32]byte) (credToken, bool) {
	if t, ok := c.cachedToken(h); ok || c.state == nil {
		return t, ok
	}
	// Made on another instance since this one last read them?
	c.freshen(time.Now())
	return c.cachedToken(h)
}

func (c *Credentials) cachedToken(h [32]byte) (credToken, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.byHash[h]
	return t, ok
}

// credChange is one change to the store, applied to copies of its maps.
type credChange struct {
	passwords map[string]string
	tokens    map[string]credToken
}

// update applies fn to a copy of the state, writes it (dropping tokens
// expired at now), and only then makes it the store's state.
func (c *Credentials) update(now time.Time, fn func(ch *credChange)) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.state != nil {
		return c.updateState(now, fn)
	}
	c.mu.RLock()
	ch := &credChange{passwords: maps.Clone(c.passwords), tokens: maps.Clone(c.tokens)}
	c.mu.RUnlock()
	data, err := applyCredChange(now, ch, fn)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(c.path, data); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	c.swap(ch)
	return nil
}

// applyCredChange applies fn to ch, drops the tokens expired at now, and
// returns the store's bytes for ch.
func applyCredChange(now time.Time, ch *credChange, fn func(ch *credChange)) ([]byte, error) {
	fn(ch)
	for id, t := range ch.tokens {
		if t.expired(now) {
			delete(ch.tokens, id)
		}
	}
	f := credFile{Version: credFileVersion, Passwords: ch.passwords, Tokens: make([]credToken, 0, len(ch.tokens))}
	for _, t := range ch.tokens {
		f.Tokens = append(f.Tokens, t)
	}
	sortTokens(f.Tokens)
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return append(data, '\n'), nil
}

func sortTokens(ts []credToken) {
	slices.SortFunc(ts, func(a, b credToken) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// setPassword stores a user's PHC string.
func (c *Credentials) setPassword(now time.Time, user, phc string) error {
	return c.update(now, func(ch *credChange) { ch.passwords[user] = phc })
}

// addToken stores a token.
func (c *Credentials) addToken(now time.Time, t credToken) error {
	return c.update(now, func(ch *credChange) { ch.tokens[t.ID] = t })
}

// removeTokens forgets tokens by id (unknown ids are ignored).
func (c *Credentials) removeTokens(now time.Time, ids ...string) error {
	return c.update(now, func(ch *credChange) {
		for _, id := range ids {
			delete(ch.tokens, id)
		}
	})
}

// writeFileAtomic replaces path with data, mode 0600: temp file, fsync,
// rename, fsync of the directory.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil { // directories cannot be synced everywhere (Windows)
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Passwords: argon2id in the PHC string format,
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash> (standard
// base64 without padding). Verification reads the parameters from the
// stored string, so raising the defaults later leaves old hashes valid; a
// login with an older hash stores it again with the current parameters.

// ArgonParams are argon2id's cost parameters.
type ArgonParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen int
	KeyLen  int
}

// DefaultArgon is measured for a desktop: 64 MiB, 2 passes, 2 lanes take
// about 55-90 ms on an idle 2-core machine, 100-150 ms on a busy one
// (BenchmarkArgon2Default). The memory is what makes it costly to attack
// with GPUs; hashing is also limited to cap(argonSlots) runs at once, so a
// burst of logins cannot take more than 2 x 64 MiB.
var DefaultArgon = ArgonParams{Memory: 64 << 10, Time: 2, Threads: 2, SaltLen: 16, KeyLen: 32}

// argonSlots bounds concurrent argon2 computations process-wide.
var argonSlots = make(chan struct{}, 2)

// Limits on parameters read back from a file, so a tampered store cannot
// make a login allocate gigabytes or spin for minutes.
const (
	maxArgonMemory = 1 << 20 // KiB: 1 GiB
	maxArgonTime   = 64
)

// phcHash is a parsed PHC string.
type phcHash struct {
	params ArgonParams
	salt   []byte
	key    []byte
}

var phcB64 = base64.RawStdEncoding

func (p phcHash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.params.Memory, p.params.Time, p.params.Threads, phcB64.EncodeToString(p.salt), phcB64.EncodeToString(p.key))
}

// parsePHC reads an argon2id PHC string.
func parsePHC(s string) (phcHash, error) {
	bad := func(why string) (phcHash, error) { return phcHash{}, errors.New("password hash: " + why) }
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return bad(fmt.Sprintf("algorithm %q, want argon2id", parts[1]))
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad(fmt.Sprintf("version %q, want v=%d", parts[2], argon2.Version))
	}
	var h phcHash
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return bad(fmt.Sprintf("parameter %q", kv))
		}
		switch k {
		case "m":
			h.params.Memory = uint32(n)
		case "t":
			h.params.Time = uint32(n)
		case "p":
			if n > 255 {
				return bad("p out of range")
			}
			h.params.Threads = uint8(n)
		default:
			return bad(fmt.Sprintf("unknown parameter %q", k))
		}
	}
	p := h.params
	if p.Time < 1 || p.Time > maxArgonTime || p.Threads < 1 || p.Memory < 8*uint32(p.Threads) || p.Memory > maxArgonMemory {
		return bad(fmt.Sprintf("parameters m=%d,t=%d,p=%d out of range", p.Memory, p.Time, p.Threads))
	}
	var err error
	if h.salt, err = phcB64.DecodeString(parts[4]); err != nil || len(h.salt) < 8 || len(h.salt) > 64 {
		return bad("salt")
	}
	if h.key, err = phcB64.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return bad("hash")
	}
	h.params.SaltLen, h.params.KeyLen = len(h.salt), len(h.key)
	return h, nil
}

// argon runs argon2id once, waiting for a slot; hook (if set) is told of
// every run, which the tests count.
func argon(ctx context.Context, hook func(), password string, salt []byte, p ArgonParams) ([]byte, error) {
	select {
	case argonSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-argonSlots }()
	if hook != nil {
		hook()
	}
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(p.KeyLen)), nil
}

// hashPassword returns password's PHC string with a fresh salt.
func hashPassword(ctx context.Context, hook func(), password string, p ArgonParams) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := argon(ctx, hook, password, salt, p)
	if err != nil {
		return "", err
	}
	return phcHash{params: p, salt: salt, key: key}.String(), nil
}

// verifyPassword tells whether password matches the PHC string, in
// constant time over the derived key. A malformed string matches nothing.
func verifyPassword(ctx context.Context, hook func(), password, phc string) (bool, error) {
	h, err := parsePHC(phc)
	if err != nil {
		return false, nil
	}
	key, err := argon(ctx, hook, password, h.salt, h.params)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// outdated tells whether a stored hash was made with other parameters than p.
func outdated(phc string, p ArgonParams) bool {
	h, err := parsePHC(phc)
	return err != nil || h.params.Memory != p.Memory || h.params.Time != p.Time || h.params.Threads != p.Threads ||
		h.params.KeyLen != p.KeyLen || h.params.SaltLen != p.SaltLen
}

// Bearer tokens: 32 random bytes shown once as rd_<base64url>; the store
// keeps their sha256.

const tokenPrefix = "rd_"

var tokenB64 = base64.RawURLEncoding

// newSecretToken returns a fresh token's text and its hash.
func newSecretToken() (string, [32]byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", [32]byte{}, err
	}
	return tokenPrefix + tokenB64.EncodeToString(b[:]), sha256.Sum256(b[:]), nil
}

// parseSecretToken returns the hash of a token's text, or false if the
// text is not a token.
func parseSecretToken(s string) ([32]byte, bool) {
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok || len(rest) != tokenB64.EncodedLen(32) {
		return [32]byte{}, false
	}
	b, err := tokenB64.DecodeString(rest)
	if err != nil || len(b) != 32 {
		return [32]byte{}, false
	}
	return sha256.Sum256(b), true
}

// newTokenID returns a token's public id (it appears in events).
func newTokenID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "tk_" + hex.EncodeToString(b[:]), nil
}

// emptyCredentials is a store with nobody in it and no file: offline review
// of an archive, where nobody logs in and nothing is written.
func emptyCredentials() *Credentials {
	return &Credentials{passwords: map[string]string{}, tokens: map[string]credToken{}, byHash: map[[32]byte]credToken{}}
}
