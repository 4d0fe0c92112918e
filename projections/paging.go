package projections

// pageBounds turns a query's offset and limit into the page actually
// served: a limit of 0 or less means def, a limit above most is cut to
// most, and a negative offset is 0. Every paged query (board, deployments,
// audit) uses it, so they clamp alike.
func pageBounds(offset, limit, def, most int) (int, int) {
	switch {
	case limit <= 0:
		limit = def
	case limit > most:
		limit = most
	}
	return max(offset, 0), limit
}
