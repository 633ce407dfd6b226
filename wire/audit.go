package wire

import "time"

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

// AuditPage is one page of entries, newest first. Next, when not zero, is
// AuditQuery.Before for the next page.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	Next    int64        `json:"next,omitempty"`
}
