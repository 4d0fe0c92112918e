package runner

import (
	"context"
	"os/exec"
	"sync"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// go-git reaches a repository given as a local path through its file
// transport, which runs the system's git-upload-pack and git-receive-pack.
// A desk without git (a Windows desk) has neither: there, the file
// transport is go-git's in-process server instead, over the repository's
// files, so a project whose repo is a local path still fetches, exports
// and pushes its release branches with no git installed.

var fileTransportOnce sync.Once

// useInProcessFileTransport installs go-git's in-process server for
// file:// where this machine has no git-upload-pack; where it has, the
// system's git keeps the job. (make test runs the runner suite both ways.)
// NewClient, not NewServer: as a client it answers an empty repository
// with transport.ErrEmptyRemoteRepository, as git-upload-pack does.
func useInProcessFileTransport() {
	fileTransportOnce.Do(func() {
		if _, err := exec.LookPath("git-upload-pack"); err == nil {
			return
		}
		loader := repoLoader{osfs.New("")}
		client.InstallProtocol("file", knownHaves{server.NewClient(loader), loader})
	})
}

// knownHaves passes on to go-git's server only the "have" lines naming
// objects the repository holds. git-upload-pack ignores the others; go-git
// walks every one and fails "object not found" when a mirror that fetched
// another repository (the project's repo was changed) fetches again.
type knownHaves struct {
	transport.Transport
	loader server.Loader
}

func (t knownHaves) NewUploadPackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.UploadPackSession, error) {
	s, err := t.Transport.NewUploadPackSession(ep, auth)
	if err != nil {
		return nil, err
	}
	st, err := t.loader.Load(ep)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return haveFilter{s, st}, nil
}

type haveFilter struct {
	transport.UploadPackSession
	objects storer.EncodedObjectStorer
}

func (s haveFilter) UploadPack(ctx context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error) {
	known := make([]plumbing.Hash, 0, len(req.Haves))
	for _, h := range req.Haves {
		if s.objects.HasEncodedObject(h) == nil {
			known = append(known, h)
		}
	}
	req.Haves = known
	return s.UploadPackSession.UploadPack(ctx, req)
}

// repoLoader opens the repository at an endpoint's path: a work tree's
// .git, or a bare one (HEAD, config and objects/ at the top). (go-git's DefaultLoader
// takes a work tree's root for its git directory.)
type repoLoader struct{ base billy.Filesystem }

func (l repoLoader) Load(ep *transport.Endpoint) (storer.Storer, error) {
	fs, err := l.base.Chroot(ep.Path)
	if err != nil {
		return nil, err
	}
	// A work tree's .git first: its root may hold a "config" or "HEAD" of
	// the project's own (a config/ directory is common).
	if fi, err := fs.Stat(".git"); err == nil && fi.IsDir() {
		if fs, err = fs.Chroot(".git"); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"HEAD", "config"} {
		if fi, err := fs.Stat(name); err != nil || fi.IsDir() {
			return nil, transport.ErrRepositoryNotFound
		}
	}
	if fi, err := fs.Stat("objects"); err != nil || !fi.IsDir() {
		return nil, transport.ErrRepositoryNotFound
	}
	return filesystem.NewStorage(fs, cache.NewObjectLRUDefault()), nil
}
