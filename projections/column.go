package projections

// column is an append-only array kept in chunks of a fixed size: growing
// it never copies what it holds and never leaves half of a doubled array
// unused, which matters for the audit's million-entry columns.
type column[T any] struct {
	chunks [][]T
	n      int
}

const (
	chunkBits = 16
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1
)

func (c *column[T]) add(v T) {
	if c.n&chunkMask == 0 && c.n>>chunkBits == len(c.chunks) {
		c.chunks = append(c.chunks, make([]T, chunkSize))
	}
	c.chunks[c.n>>chunkBits][c.n&chunkMask] = v
	c.n++
}

func (c *column[T]) at(i int) T { return c.chunks[i>>chunkBits][i&chunkMask] }

func (c *column[T]) set(i int, v T) { c.chunks[i>>chunkBits][i&chunkMask] = v }

func (c *column[T]) len() int { return c.n }

// resize makes the column n long (for a checkpoint's load).
func (c *column[T]) resize(n int) {
	for len(c.chunks)*chunkSize < n {
		c.chunks = append(c.chunks, make([]T, chunkSize))
	}
	c.n = n
}

// slice copies the column out (tests).
func (c *column[T]) slice() []T {
	out := make([]T, c.n)
	for i := range out {
		out[i] = c.at(i)
	}
	return out
}
