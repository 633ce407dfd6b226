package store

// SetCopyAuditPage sets Copy's audit page size and returns a function that
// restores it.
func SetCopyAuditPage(n int) func() {
	old := copyAuditPage
	copyAuditPage = n
	return func() { copyAuditPage = old }
}
