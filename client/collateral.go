package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

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

// collateralPath turns "tee/fmspc[/pceid]" into the URL path of a
// platform family (PCE ID 0000 when absent).
func (c *Client) collateralPath(key, suffix string) (string, error) {
	parts := strings.Split(strings.TrimSpace(key), "/")
	if len(parts) == 2 {
		parts = append(parts, "0000")
	}
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", ErrInvalidArgument.Wrapf("collateral key %q: want TEE/FMSPC[/PCEID], e.g. sgx/00906ed50000/0000", key)
	}
	for i := range parts {
		parts[i] = url.PathEscape(strings.ToLower(parts[i]))
	}
	return c.mgmt("/collateral/" + strings.Join(parts, "/") + suffix)
}

// GetCollateral returns a platform family's collateral state and history
// (GET /management/collateral/{tee}/{fmspc}/{pceid}, reader).
func (c *Client) GetCollateral(ctx context.Context, key string) (*CollateralView, error) {
	u, err := c.collateralPath(key, "")
	if err != nil {
		return nil, err
	}
	var out CollateralView
	if err := c.do(ctx, request{method: http.MethodGet, url: u, auth: true, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// CollateralBundle returns a stored collateral bundle of a platform
// family: the latest when id is 0, else history row id
// (GET /management/collateral/{tee}/{fmspc}/{pceid}/bundle, reader).
func (c *Client) CollateralBundle(ctx context.Context, key string, id int64) ([]byte, error) {
	u, err := c.collateralPath(key, "/bundle")
	if err != nil {
		return nil, err
	}
	if id > 0 {
		u += "?id=" + strconv.FormatInt(id, 10)
	}
	var out json.RawMessage
	if err := c.do(ctx, request{method: http.MethodGet, url: u, auth: true, out: &out}); err != nil {
		return nil, err
	}
	return out, nil
}

// RefreshCollateral asks the server to refresh the given platform families
// ("tee/fmspc[/pceid]") from its sources now, all stored ones when keys is
// empty (POST /management/collateral:refresh, owner).
func (c *Client) RefreshCollateral(ctx context.Context, keys []string) ([]CollateralRefresh, error) {
	u, err := c.mgmt("/collateral:refresh")
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]any{"keys": append([]string{}, keys...)})
	if err != nil {
		return nil, err
	}
	var out struct {
		Results []CollateralRefresh `json:"results"`
	}
	if err := c.do(ctx, request{method: http.MethodPost, url: u, body: body, auth: true, out: &out}); err != nil {
		return nil, err
	}
	return out.Results, nil
}

// PruneCollateral deletes collateral history rows stored more than
// olderThan ago ("720h", "30d"); the latest row of each platform family
// stays (POST /management/collateral:prune, owner).
func (c *Client) PruneCollateral(ctx context.Context, olderThan string) (*CollateralPrune, error) {
	u, err := c.mgmt("/collateral:prune")
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]string{"olderThan": olderThan})
	if err != nil {
		return nil, err
	}
	var out CollateralPrune
	if err := c.do(ctx, request{method: http.MethodPost, url: u, body: body, auth: true, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}
