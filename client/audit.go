package client

import (
	"context"
	"github.com/avowhq/avow/wire"
	"net/http"
	"net/url"
	"strconv"
)

// The audit log answers of the management API (package wire).
type (
	AuditEntry = wire.AuditEntry
	AuditPage  = wire.AuditPage
)

// Audit entry kinds.
const (
	AuditManagement  = "management"
	AuditAttestation = "attestation"
)

// AuditQuery selects audit entries; zero members do not filter.
type AuditQuery struct {
	Provider string
	Kind     string // AuditManagement or AuditAttestation
	// Operation is a prefix of the operation, e.g. "policy." or "attest.".
	Operation string
	// Since and Until bound the time: RFC 3339 or a duration before now
	// such as "24h" or "7d" (the server's clock).
	Since, Until string
	// Before is the ID below which to list: AuditPage.Next of the previous
	// page.
	Before int64
	// Limit is the page size (server default 100, at most 10000).
	Limit int
}

// ListAudit reads the audit log (GET /management/audit, reader).
func (c *Client) ListAudit(ctx context.Context, q AuditQuery) (*AuditPage, error) {
	u, err := c.mgmt("/audit")
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("provider", q.Provider)
	set("kind", q.Kind)
	set("operation", q.Operation)
	set("since", q.Since)
	set("until", q.Until)
	if q.Before > 0 {
		v.Set("before", strconv.FormatInt(q.Before, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	var page AuditPage
	if err := c.do(ctx, request{method: http.MethodGet, url: u, auth: true, out: &page}); err != nil {
		return nil, err
	}
	if page.Entries == nil {
		page.Entries = []AuditEntry{}
	}
	return &page, nil
}
