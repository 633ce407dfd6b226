package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Audit entry kinds.
const (
	AuditManagement  = "management"
	AuditAttestation = "attestation"
)

// AuditEntry is one record of a server's audit log: a management change
// (Actor is the admin token id, Details the hashes of what changed) or an
// attestation (Details: type, tee, fmspc, tcb_status, policy_hash,
// duration_ms, failure_code, message).
type AuditEntry struct {
	ID        int64             `json:"id"`
	Time      time.Time         `json:"time"`
	Kind      string            `json:"kind"`
	Actor     string            `json:"actor,omitempty"`
	Provider  string            `json:"provider,omitempty"`
	Operation string            `json:"operation"`
	Outcome   string            `json:"outcome"`
	Details   map[string]string `json:"details,omitempty"`
	RequestID string            `json:"requestId,omitempty"`
}

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

// AuditPage is one page of entries, newest first. Next, when not zero, is
// AuditQuery.Before for the next page.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	Next    int64        `json:"next,omitempty"`
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
