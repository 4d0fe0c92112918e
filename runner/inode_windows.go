package runner

import "io/fs"

// inode is 0 on Windows: FileInfo carries no file index there (it would
// take opening every file), so a kept tree is told by path, mode, size and
// modification time alone.
func inode(fs.FileInfo) uint64 { return 0 }
