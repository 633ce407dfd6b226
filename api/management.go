package api

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"time"

	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/wire"
)

func providerOut(v *service.ProviderView) wire.Provider {
	return wire.Provider{
		Name: v.Name, TrustModel: string(v.TrustModel), AttestURI: v.AttestURI,
		Settings: wire.Settings{AcceptedTCBStatuses: v.Settings.AcceptedTCBStatuses,
			CollateralGracePeriod: v.Settings.CollateralGracePeriod.String(), TokenAlgorithm: service.TokenAlgorithm(v.Settings),
			CollateralSources: service.CollateralSources(v.Settings), PublicNetworkAccess: disabledOnly(service.PublicNetworkAccess(v.Settings)),
			TPMAttestationAuthentication: disabledOnly(service.TPMAttestationAuthentication(v.Settings)),
			TypeSettings:                 service.TypeSettings(v.Settings), TCBGrace: tcbGraceOut(v.Settings)},
		PolicySigningCertificates: v.Signers, Shared: v.Shared, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, Version: v.Version,
	}
}

// tcbGraceOut is the provider's tcbGrace setting on the wire (nil: none).
func tcbGraceOut(s store.Settings) *[]wire.TCBGrace {
	g := service.TCBGraceOf(s)
	if len(g) == 0 {
		return nil
	}
	out := make([]wire.TCBGrace, len(g))
	for i, e := range g {
		out[i] = wire.TCBGrace{AdvisoryIDs: e.AdvisoryIDs, Until: e.Until}
	}
	return &out
}

// disabledOnly shows an Enabled/Disabled setting only when it is not the
// default.
func disabledOnly(v string) string {
	if v == service.AccessEnabled {
		return ""
	}
	return v
}

type createProviderJSON struct {
	Name                      string         `json:"name"`
	TrustModel                string         `json:"trustModel"`
	PolicySigningCertificates []string       `json:"policySigningCertificates"`
	Settings                  *wire.Settings `json:"settings"`
}

// settingsIn turns the settings of a create or update body into the
// service's (nil: keep every default or current value).
func settingsIn(in *wire.Settings) (*service.ProviderSettings, error) {
	if in == nil {
		return nil, nil
	}
	out := &service.ProviderSettings{AcceptedTCBStatuses: in.AcceptedTCBStatuses, CollateralSources: in.CollateralSources,
		TypeSettings: in.TypeSettings}
	if in.PublicNetworkAccess != "" {
		out.PublicNetworkAccess = &in.PublicNetworkAccess
	}
	if in.TPMAttestationAuthentication != "" {
		out.TPMAttestationAuthentication = &in.TPMAttestationAuthentication
	}
	if in.TCBGrace != nil {
		g := make([]service.TCBGrace, len(*in.TCBGrace))
		for i, e := range *in.TCBGrace {
			g[i] = service.TCBGrace{AdvisoryIDs: e.AdvisoryIDs, Until: e.Until}
		}
		out.TCBGrace = &g
	}
	if in.TokenAlgorithm != "" {
		alg := in.TokenAlgorithm
		out.TokenAlgorithm = &alg
	}
	if in.CollateralGracePeriod != "" {
		d, err := time.ParseDuration(in.CollateralGracePeriod)
		if err != nil {
			return nil, ErrBadJSON.Wrapf("collateralGracePeriod %q is not a duration like 72h", in.CollateralGracePeriod)
		}
		out.CollateralGracePeriod = &d
	}
	return out, nil
}

// decodeJSON reads a JSON request body into v, refusing unknown fields
// and anything after the first JSON value.
func decodeJSON(r *http.Request, limit int64, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	raw, err := readBody(r, limit)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return ErrBadJSON.Wrapf("%v", err)
	}
	if rest := bytes.TrimLeft(raw[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return ErrBadJSON.Wrapf("data after the JSON value at offset %d", dec.InputOffset())
	}
	return nil
}

func parseCertificates(pems []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for i, text := range pems {
		rest := []byte(text)
		found := false
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, ErrBadJSON.Wrapf("policySigningCertificates[%d] is not an X.509 certificate: %v", i, err)
			}
			out = append(out, cert)
			found = true
		}
		if !found {
			return nil, ErrBadJSON.Wrapf("policySigningCertificates[%d] holds no PEM certificate", i)
		}
	}
	return out, nil
}

// management serves /management/...
func (s *Server) management(w http.ResponseWriter, r *http.Request, rest string) {
	who, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	parts := strings.Split(rest, "/")
	switch {
	case rest == "providers":
		switch r.Method {
		case http.MethodGet:
			views, err := s.svc.ListProviders(ctx, who)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			out := make([]wire.Provider, 0, len(views))
			for i := range views {
				out = append(out, providerOut(&views[i]))
			}
			writeJSON(w, http.StatusOK, map[string]any{"providers": out})
		case http.MethodPost:
			if !s.allow(w, r, who, store.RoleOwner) {
				return
			}
			var in createProviderJSON
			if err := decodeJSON(r, MaxMgmtBody, &in); err != nil {
				s.writeError(w, r, err)
				return
			}
			certs, err := parseCertificates(in.PolicySigningCertificates)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			settings, err := settingsIn(in.Settings)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			v, err := s.svc.CreateProvider(ctx, who, service.ProviderRequest{Name: in.Name, TrustModel: store.TrustModel(in.TrustModel),
				PolicySigningCertificates: certs, Settings: settings})
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			writeJSON(w, http.StatusCreated, providerOut(v))
		default:
			s.method(w, r, http.MethodGet, http.MethodPost)
		}
	case len(parts) == 2 && parts[0] == "providers":
		s.provider(w, r, who, parts[1])
	case len(parts) == 3 && parts[0] == "providers" && (parts[2] == "keys" || parts[2] == "keys:rotate"):
		s.keys(w, r, who, parts[1], parts[2] == "keys:rotate")
	case parts[0] == "admin-tokens" && len(parts) <= 2:
		s.adminTokens(w, r, who, parts[1:])
	case parts[0] == "collateral" || strings.HasPrefix(parts[0], "collateral:"):
		s.collateralRoutes(w, r, who, parts)
	case rest == "audit":
		s.audit(w, r, who)
	default:
		s.writeError(w, r, ErrNotFound.Wrapf("%s", r.URL.Path))
	}
}

func (s *Server) provider(w http.ResponseWriter, r *http.Request, who *service.Principal, name string) {
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet:
		v, err := s.svc.GetProvider(ctx, who, name)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, providerOut(v))
	case http.MethodPatch:
		if !s.allow(w, r, who, store.RoleOwner) {
			return
		}
		var in struct {
			Settings *wire.Settings `json:"settings"`
		}
		if err := decodeJSON(r, MaxMgmtBody, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
		if in.Settings == nil {
			s.writeError(w, r, ErrBadJSON.Wrapf("the body has no settings"))
			return
		}
		settings, err := settingsIn(in.Settings)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		v, err := s.svc.UpdateProviderSettings(ctx, who, name, *settings)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, providerOut(v))
	case http.MethodDelete:
		if err := s.svc.DeleteProvider(ctx, who, name); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		s.method(w, r, http.MethodGet, http.MethodPatch, http.MethodDelete)
	}
}

func (s *Server) keys(w http.ResponseWriter, r *http.Request, who *service.Principal, name string, rotate bool) {
	ctx := r.Context()
	if rotate {
		if !s.method(w, r, http.MethodPost) {
			return
		}
		k, err := s.svc.RotateKey(ctx, who, name)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, wire.Key{KID: k.KID, Active: true, CreatedAt: k.CreatedAt})
		return
	}
	if !s.method(w, r, http.MethodGet) {
		return
	}
	keys, err := s.svc.ListKeys(ctx, who, name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]wire.Key, 0, len(keys))
	for _, k := range keys {
		kj := wire.Key{KID: k.KID, Active: k.Active, CreatedAt: k.CreatedAt}
		if !k.RetiredAt.IsZero() {
			t := k.RetiredAt
			kj.RetiredAt = &t
		}
		out = append(out, kj)
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}

func (s *Server) adminTokens(w http.ResponseWriter, r *http.Request, who *service.Principal, rest []string) {
	ctx := r.Context()
	if len(rest) == 1 {
		if !s.method(w, r, http.MethodDelete) {
			return
		}
		if err := s.svc.RevokeAdminToken(ctx, who, rest[0]); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	switch r.Method {
	case http.MethodPost:
		if !s.allow(w, r, who, store.RoleOwner) {
			return
		}
		var in struct {
			Role        string `json:"role"`
			Description string `json:"description"`
		}
		if err := decodeJSON(r, MaxMgmtBody, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
		t, err := s.svc.CreateAdminToken(ctx, who, store.Role(in.Role), in.Description)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"id": t.ID, "role": string(t.Role), "token": t.Secret})
	case http.MethodGet:
		ts, err := s.svc.ListAdminTokens(ctx, who)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := make([]map[string]any, 0, len(ts))
		for _, t := range ts {
			out = append(out, map[string]any{"id": t.ID, "role": t.Role, "description": t.Description, "createdAt": t.CreatedAt, "revoked": t.Revoked})
		}
		writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	default:
		s.method(w, r, http.MethodGet, http.MethodPost)
	}
}

func collateralOut(c store.Collateral) map[string]any {
	out := map[string]any{"id": c.ID, "tee": c.Key.TEE, "fmspc": c.Key.FMSPC, "pceId": c.Key.PCEID, "issueDate": c.IssueDate,
		"nextUpdate": c.NextUpdate, "fetchedAt": c.FetchedAt, "source": c.Source, "sha256": c.SHA256}
	if c.TCBEvaluationDataNumber != 0 {
		out["tcbEvaluationDataNumber"] = c.TCBEvaluationDataNumber
	}
	if c.Pinned {
		out["pinned"] = true
	}
	return out
}

func (s *Server) collateral(w http.ResponseWriter, r *http.Request, who *service.Principal) {
	ctx := r.Context()
	switch r.Method {
	case http.MethodPost:
		if !s.allow(w, r, who, store.RoleOwner) {
			return
		}
		if err := requireJSON(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		raw, err := readBody(r, MaxMgmtBody)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		col, err := pcs.ParseBundle(raw)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		row, expired, err := s.svc.ImportCollateral(ctx, who, col, "api")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := collateralOut(row)
		if len(expired) > 0 {
			docs := make([]map[string]any, len(expired))
			for i, e := range expired {
				docs[i] = map[string]any{"document": e.Document, "expiredAt": e.At}
			}
			out["expired"] = true
			out["expiredDocuments"] = docs
			out["warnings"] = []string{service.ExpiredWarning(expired, s.svc.Now())}
		}
		writeJSON(w, http.StatusCreated, out)
	case http.MethodGet:
		// Every TCB evaluation data number of every platform family: the
		// current collateral and the collateral kept for baselines (pinned).
		rows, err := s.svc.ListCollateralNumbers(ctx, who)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := make([]map[string]any, 0, len(rows))
		for _, c := range rows {
			m := collateralOut(c.Collateral)
			m["expired"] = c.Expired
			if !c.ExpiresAt.IsZero() {
				m["expiresAt"] = c.ExpiresAt
				m["expiresInSeconds"] = int64(c.TimeToExpiry / time.Second)
			}
			out = append(out, m)
		}
		writeJSON(w, http.StatusOK, map[string]any{"collateral": out})
	default:
		s.method(w, r, http.MethodGet, http.MethodPost)
	}
}
