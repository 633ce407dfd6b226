package wire

import "time"

// CollateralHashes are the digests of one stored collateral set, as a
// token's x-ms-sgx-collateral claim carries them.
type CollateralHashes struct {
	QEIDCertsHash    string `json:"qeidcertshash"`
	QEIDCRLHash      string `json:"qeidcrlhash"`
	QEIDHash         string `json:"qeidhash"`
	TCBInfoCertsHash string `json:"tcbinfocertshash"`
	TCBInfoCRLHash   string `json:"tcbinfocrlhash"`
	TCBInfoHash      string `json:"tcbinfohash"`
}

// CollateralRow is one stored collateral row of a platform family.
type CollateralRow struct {
	ID         int64             `json:"id"`
	IssueDate  time.Time         `json:"issueDate"`
	NextUpdate time.Time         `json:"nextUpdate"`
	FetchedAt  time.Time         `json:"fetchedAt"`
	Source     string            `json:"source"`
	SHA256     string            `json:"sha256"`
	Size       int64             `json:"size"`
	Hashes     *CollateralHashes `json:"hashes,omitempty"`
	// TCBEvaluationDataNumber is the row's TCB info number (absent: not
	// recorded); Pinned marks a row kept for that number (a TCB baseline),
	// never the platform's current collateral (docs/tcb-baselines.md).
	TCBEvaluationDataNumber uint32 `json:"tcbEvaluationDataNumber,omitempty"`
	Pinned                  bool   `json:"pinned,omitempty"`
}

// CollateralRefreshState is what the server node knows of fetching a
// platform family's collateral.
type CollateralRefreshState struct {
	LastAttempt         time.Time  `json:"lastAttempt"`
	LastOutcome         string     `json:"lastOutcome"`
	LastErrors          []string   `json:"lastErrors"`
	ConsecutiveFailures int        `json:"consecutiveFailures"`
	RetryAt             *time.Time `json:"retryAt,omitempty"`
}

// CollateralView is a platform family's collateral: the latest row, its
// expiry (the earliest nextUpdate or notAfter of everything in it) and
// its history, newest first.
type CollateralView struct {
	TEE              string                  `json:"tee"`
	FMSPC            string                  `json:"fmspc"`
	PCEID            string                  `json:"pceId"`
	ID               int64                   `json:"id"`
	Source           string                  `json:"source"`
	SHA256           string                  `json:"sha256"`
	IssueDate        time.Time               `json:"issueDate"`
	FetchedAt        time.Time               `json:"fetchedAt"`
	NextUpdate       *time.Time              `json:"nextUpdate,omitempty"`
	AgeSeconds       int64                   `json:"ageSeconds"`
	ExpiresInSeconds int64                   `json:"expiresInSeconds"`
	Expired          bool                    `json:"expired"`
	Refresh          *CollateralRefreshState `json:"refresh,omitempty"`
	History          []CollateralRow         `json:"history"`
}

// CollateralRefresh is the outcome of refreshing one platform family.
type CollateralRefresh struct {
	Key        string     `json:"key"`
	TEE        string     `json:"tee"`
	FMSPC      string     `json:"fmspc"`
	PCEID      string     `json:"pceId"`
	Outcome    string     `json:"outcome"` // updated, unchanged or failed
	Source     string     `json:"source,omitempty"`
	SHA256     string     `json:"sha256,omitempty"`
	NextUpdate *time.Time `json:"nextUpdate,omitempty"`
	RetryAt    *time.Time `json:"retryAt,omitempty"`
	Errors     []string   `json:"errors"`
}

// CollateralPrune is the outcome of a prune.
type CollateralPrune struct {
	Deleted int64     `json:"deleted"`
	Before  time.Time `json:"before"`
}
