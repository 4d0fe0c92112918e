package runner

import (
	"os/exec"
	"sync"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/cache"
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
// system's git keeps the job (what every other test of the suite runs).
func useInProcessFileTransport() {
	fileTransportOnce.Do(func() {
		if _, err := exec.LookPath("git-upload-pack"); err == nil {
			return
		}
		client.InstallProtocol("file", server.NewServer(repoLoader{osfs.New("")}))
	})
}

// repoLoader opens the repository at an endpoint's path: a bare one (its
// config at the top), or a work tree's .git. (go-git's DefaultLoader
// takes a work tree's root for its git directory.)
type repoLoader struct{ base billy.Filesystem }

func (l repoLoader) Load(ep *transport.Endpoint) (storer.Storer, error) {
	fs, err := l.base.Chroot(ep.Path)
	if err != nil {
		return nil, err
	}
	if _, err := fs.Stat("config"); err != nil {
		if fi, err := fs.Stat(".git"); err != nil || !fi.IsDir() {
			return nil, transport.ErrRepositoryNotFound
		}
		if fs, err = fs.Chroot(".git"); err != nil {
			return nil, err
		}
	}
	return filesystem.NewStorage(fs, cache.NewObjectLRUDefault()), nil
}
