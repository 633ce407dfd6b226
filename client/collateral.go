package client

import (
	"context"
	"encoding/json"
	"github.com/avowhq/avow/wire"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The collateral answers of the management API (package wire).
type (
	CollateralHashes       = wire.CollateralHashes
	CollateralRow          = wire.CollateralRow
	CollateralRefreshState = wire.CollateralRefreshState
	CollateralView         = wire.CollateralView
	CollateralRefresh      = wire.CollateralRefresh
	CollateralPrune        = wire.CollateralPrune
)

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
