package api

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
)

// The ARM-compatible management API: Azure Resource Manager's
// Microsoft.Attestation/attestationProviders resource (api-versions
// 2020-10-01 and 2021-06-01; ../shared/spec/always-encrypted-and-arm.md
// part B), served beside the native /management API so that
// @azure/arm-attestation, az and PowerShell clients pointed at avow work.
// Subscription, resource group, location and tags are provider metadata
// (service.Scope); see docs/azure-sdk.md.

// armAPIVersions are the ARM api-versions avow answers. They share one
// wire shape: 2021-06-01(-preview) adds publicNetworkAccess and
// tpmAttestationAuthentication, which avow shows in every version (clients
// ignore members they do not know). 2018-09-01-preview, the first version,
// is still used by published examples (list by resource group, default
// provider by location) and older tools; its resource has the same members.
var armAPIVersions = map[string]bool{"2018-09-01-preview": true, "2020-10-01": true, "2021-06-01-preview": true, "2021-06-01": true}

const (
	armNamespace    = "Microsoft.Attestation"
	armResourceType = "attestationProviders"
	armType         = armNamespace + "/" + armResourceType
)

// ARM-style errors (ARM's error codes are PascalCase).
var (
	errARMMissingAPIVersion = errs.New("MissingApiVersionParameter", "the api-version query parameter (?api-version=) is required for all requests")
	errARMBadAPIVersion     = errs.New("InvalidApiVersionParameter", "the api-version is not supported; supported versions are 2018-09-01-preview, 2020-10-01, 2021-06-01-preview and 2021-06-01")
	errARMBadContent        = errs.New("InvalidRequestContent", "the request content is not valid")
	errARMLocationRequired  = errs.New("LocationRequired", "the location property is required for this definition")
	errARMBadName           = errs.New("InvalidResourceName", "the resource name is invalid")
	errARMBadCertificate    = errs.New("InvalidPolicySigningCertificate", "PolicySigningCertificate key is not an X509 security key")
	errARMNotSupported      = errs.New("FeatureNotSupported", "the feature is not supported by avow")
	errARMTrustModel        = errs.New("TrustModelChangeNotSupported", "the trust model of an existing attestation provider cannot be changed; delete the provider and create it again").WithStatus(http.StatusConflict)
	errARMNameTaken         = errs.New("Conflict", "the attestation provider name is taken").WithStatus(http.StatusConflict)
)

// armCodes maps avow's stable codes to the codes ARM uses for the same
// condition. Codes not listed keep avow's code.
var armCodes = map[string]string{
	"unauthorized":           "AuthenticationFailed",
	"forbidden":              "AuthorizationFailed",
	"not_found":              "ResourceNotFound",
	"provider_not_found":     "ResourceNotFound",
	"method_not_allowed":     "MethodNotAllowed",
	"conflict":               "Conflict",
	"invalid_json":           "InvalidRequestContent",
	"invalid_request":        "BadRequest",
	"invalid_argument":       "BadRequest",
	"request_too_large":      "RequestEntityTooLarge",
	"unsupported_media_type": "UnsupportedMediaType",
	"store_unavailable":      "ServiceUnavailable",
}

// isARMPath reports whether path belongs to the ARM-compatible API:
// /subscriptions/... and /providers/Microsoft.Attestation/operations (no
// avow provider can be called Microsoft.Attestation: names are lowercase).
func isARMPath(path string) bool {
	return hasPrefixFold(path, "/subscriptions/") || strings.EqualFold(path, "/providers/"+armNamespace+"/operations")
}

// armRoute is the route template of an ARM path for the request metrics.
func armRoute(path string) string {
	req, err := parseARMPath(path)
	if err != nil {
		return "other"
	}
	const providers = "/subscriptions/{sub}/resourceGroups/{rg}/providers/" + armType
	switch req.kind {
	case "operations":
		return "/providers/" + armNamespace + "/operations"
	case "subscription":
		return "/subscriptions/{sub}/providers/" + armType
	case "defaults":
		return "/subscriptions/{sub}/providers/" + armNamespace + "/defaultProviders"
	case "defaultByLocation":
		return "/subscriptions/{sub}/providers/" + armNamespace + "/locations/{location}/defaultProvider"
	case "resourceGroup":
		return providers
	case "provider":
		return providers + "/{name}"
	}
	return providers + "/{name}/..."
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// writeARMError renders err as ARM's CloudError body
// {"error":{"code","message"}} with ARM's codes. A refused change of an
// authenticated caller is audited, as writeError does.
func (s *Server) writeARMError(w http.ResponseWriter, r *http.Request, err error) {
	var e *errs.Error
	status, code, message := http.StatusInternalServerError, "InternalServerError", "internal error"
	if errors.As(err, &e) {
		status, code, message = errs.HTTPStatus(e), e.Code, errs.ClientDetail(e)
		if c, ok := armCodes[e.Code]; ok {
			code = c
		}
	}
	if status >= 500 {
		s.log.Error("request failed", "request_id", requestID(r), "method", r.Method, "path", r.URL.Path, "err", err.Error())
		if code != "ServiceUnavailable" {
			code = "InternalServerError"
		}
		message = "internal error"
		if e != nil {
			message = e.Message
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="avow"`)
	}
	if status < 500 {
		s.auditRefused(r, err)
	}
	var body errorBody
	body.Error.Code, body.Error.Message = code, message
	writeJSON(w, status, body)
}

// armRequest is a parsed ARM path.
type armRequest struct {
	scope    service.Scope
	name     string   // provider name, "" for collections
	kind     string   // what the path addresses, see parseARMPath
	extra    []string // segments after the provider name
	location string   // for defaultProvider by location
}

var (
	armSubscriptionID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)
	armResourceGroup  = regexp.MustCompile(`^[-\w.()]{1,90}$`)
)

// parseARMPath splits an ARM path. kinds: "operations", "subscription"
// (list in a subscription), "defaults", "defaultByLocation",
// "resourceGroup" (list in a resource group), "provider", "sub" (a child
// collection or resource of a provider: extra holds its segments).
func parseARMPath(path string) (*armRequest, error) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	eq := strings.EqualFold
	notFound := ErrNotFound.Wrapf("%s", path)
	if len(seg) == 3 && eq(seg[0], "providers") && eq(seg[1], armNamespace) && eq(seg[2], "operations") {
		return &armRequest{kind: "operations"}, nil
	}
	if len(seg) < 2 || !eq(seg[0], "subscriptions") {
		return nil, notFound
	}
	req := &armRequest{scope: service.Scope{SubscriptionID: seg[1]}}
	if !armSubscriptionID.MatchString(seg[1]) {
		return nil, errs.New("InvalidSubscriptionId", "the subscription identifier is malformed").Wrapf("%q", seg[1])
	}
	rest := seg[2:]
	if len(rest) >= 3 && eq(rest[0], "providers") && eq(rest[1], armNamespace) {
		switch {
		case len(rest) == 3 && eq(rest[2], armResourceType):
			req.kind = "subscription"
			return req, nil
		case len(rest) == 3 && eq(rest[2], "defaultProviders"):
			req.kind = "defaults"
			return req, nil
		case len(rest) == 5 && eq(rest[2], "locations") && eq(rest[4], "defaultProvider"):
			req.kind, req.location = "defaultByLocation", rest[3]
			return req, nil
		}
		return nil, notFound
	}
	if len(rest) < 5 || !eq(rest[0], "resourceGroups") || !eq(rest[2], "providers") || !eq(rest[3], armNamespace) || !eq(rest[4], armResourceType) {
		return nil, notFound
	}
	req.scope.ResourceGroup = rest[1]
	if !armResourceGroup.MatchString(rest[1]) || strings.HasSuffix(rest[1], ".") {
		return nil, errs.New("InvalidResourceGroup", "the resource group name is invalid").Wrapf("%q", rest[1])
	}
	switch {
	case len(rest) == 5:
		req.kind = "resourceGroup"
	case len(rest) == 6:
		req.kind, req.name = "provider", rest[5]
	default:
		req.kind, req.name, req.extra = "sub", rest[5], rest[6:]
	}
	return req, nil
}

// arm serves the ARM-compatible management API.
func (s *Server) arm(w http.ResponseWriter, r *http.Request) {
	// The caller is known before the path and the api-version are checked,
	// so that their refusals are audited with the caller like any other
	// refused change (the answers keep their order: path, api-version,
	// authentication).
	who, authErr := s.principal(r)
	if !s.limitManagement(w, r, who) { // ARM requests count as management requests
		return
	}
	if authErr == nil {
		if st := stateOf(r); st != nil {
			st.who = who
		}
	}
	req, err := parseARMPath(r.URL.Path)
	if err != nil {
		s.writeARMError(w, r, err)
		return
	}
	v := r.URL.Query().Get("api-version")
	switch {
	case v == "":
		s.writeARMError(w, r, errARMMissingAPIVersion)
		return
	case !armAPIVersions[v]:
		s.writeARMError(w, r, errARMBadAPIVersion.Wrapf("%q", v))
		return
	case authErr != nil:
		s.writeARMError(w, r, authErr)
		return
	}
	if req.kind != "provider" && req.kind != "sub" && r.Method != http.MethodGet {
		s.armMethodNotAllowed(w, r, http.MethodGet)
		return
	}
	ctx := r.Context()
	switch req.kind {
	case "operations":
		if !who.Allows(store.RoleReader) {
			s.writeARMError(w, r, service.ErrForbidden.Wrapf("role %s, reader needed", who.Role))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": armOperations})
	case "subscription", "resourceGroup":
		views, err := s.svc.ListProvidersIn(ctx, who, req.scope)
		if err != nil {
			s.writeARMError(w, r, err)
			return
		}
		out := make([]armProvider, 0, len(views))
		for i := range views {
			out = append(out, armProviderOut(&views[i]))
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": out})
	case "defaults", "defaultByLocation":
		s.armDefaults(w, r, who, req)
	case "provider":
		s.armProvider(w, r, who, req)
	case "sub":
		s.armProviderChild(w, r, who, req)
	}
}

// armAllow is allow with ARM's error body.
func (s *Server) armAllow(w http.ResponseWriter, r *http.Request, who *service.Principal, need store.Role) bool {
	if who.Allows(need) {
		return true
	}
	s.writeARMError(w, r, service.ErrForbidden.Wrapf("role %s, %s needed", who.Role, need))
	return false
}

func (s *Server) armMethodNotAllowed(w http.ResponseWriter, r *http.Request, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.writeARMError(w, r, ErrMethodNotAllowed.Wrapf("%s %s", r.Method, r.URL.Path))
}

// armProviderChild serves the private endpoint connections and private
// link resources of a provider: avow has none and supports none.
func (s *Server) armProviderChild(w http.ResponseWriter, r *http.Request, who *service.Principal, req *armRequest) {
	ctx := r.Context()
	if _, err := s.svc.GetProviderIn(ctx, who, req.scope, req.name); err != nil {
		s.writeARMError(w, r, err)
		return
	}
	eq := strings.EqualFold
	switch {
	case len(req.extra) == 1 && (eq(req.extra[0], "privateEndpointConnections") || eq(req.extra[0], "privateLinkResources")):
		if r.Method != http.MethodGet {
			s.armMethodNotAllowed(w, r, http.MethodGet)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": []any{}})
	case len(req.extra) == 2 && eq(req.extra[0], "privateEndpointConnections"):
		switch r.Method {
		case http.MethodGet:
			s.writeARMError(w, r, ErrNotFound.Wrapf("private endpoint connection %q", req.extra[1]))
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			s.writeARMError(w, r, errARMNotSupported.Wrapf("avow does not support private endpoint connections"))
		}
	default:
		s.writeARMError(w, r, ErrNotFound.Wrapf("%s", r.URL.Path))
	}
}

// armDefaults lists the operator's shared providers (defaultProviders) or
// returns the one of a location (locations/{l}/defaultProvider; 404 when
// none is declared there).
func (s *Server) armDefaults(w http.ResponseWriter, r *http.Request, who *service.Principal, req *armRequest) {
	if !s.armAllow(w, r, who, store.RoleReader) {
		return
	}
	ctx := r.Context()
	var out []armProvider
	for _, sp := range s.svc.SharedProviders() {
		if req.kind == "defaultByLocation" && !service.SameLocation(sp.Location, req.location) {
			continue
		}
		v, err := s.svc.GetProvider(ctx, who, sp.Name)
		if errors.Is(err, service.ErrProviderNotFound) {
			continue // declared but not (yet) created: EnsureSharedProviders runs at start
		}
		if err != nil {
			s.writeARMError(w, r, err)
			return
		}
		out = append(out, armSharedOut(v, sp))
	}
	if req.kind == "defaults" {
		writeJSON(w, http.StatusOK, map[string]any{"value": append([]armProvider{}, out...)})
		return
	}
	if len(out) == 0 {
		s.writeARMError(w, r, ErrNotFound.Wrapf("there is no default (shared) provider in location %q: the operator declares them with avow serve --shared-provider", req.location))
		return
	}
	writeJSON(w, http.StatusOK, out[0])
}

// armSharedOut is a shared provider as ARM shows a default provider: an id
// without subscription or resource group, no tags, no systemData.
func armSharedOut(v *service.ProviderView, sp service.SharedProvider) armProvider {
	p := armProviderOut(v)
	p.ID = "/providers/" + armType + "/" + v.Name
	p.Location = sp.Location
	p.Tags, p.SystemData = nil, nil
	return p
}

// armProvider is ARM's AttestationProvider resource.
type armProvider struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Location   string         `json:"location"`
	Tags       any            `json:"tags,omitempty"`       // map[string]string; nil for shared providers
	SystemData *armSystemData `json:"systemData,omitempty"` // nil for shared providers
	Properties armProperties  `json:"properties"`
}

type armSystemData struct {
	CreatedAt      time.Time `json:"createdAt"`
	LastModifiedAt time.Time `json:"lastModifiedAt"`
}

type armProperties struct {
	TrustModel                   string `json:"trustModel"`
	Status                       string `json:"status"`
	AttestURI                    string `json:"attestUri"`
	PublicNetworkAccess          string `json:"publicNetworkAccess"`
	TPMAttestationAuthentication string `json:"tpmAttestationAuthentication"`
	PrivateEndpointConnections   []any  `json:"privateEndpointConnections"`
}

func armID(md store.Metadata, name string) string {
	return "/subscriptions/" + md.SubscriptionID + "/resourceGroups/" + md.ResourceGroup +
		"/providers/" + armType + "/" + name
}

func armProviderOut(v *service.ProviderView) armProvider {
	tags := v.Metadata.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return armProvider{
		ID: armID(v.Metadata, v.Name), Name: v.Name, Type: armType, Location: v.Metadata.Location, Tags: tags,
		SystemData: &armSystemData{CreatedAt: v.CreatedAt, LastModifiedAt: v.UpdatedAt},
		Properties: armProperties{TrustModel: string(v.TrustModel), Status: "Ready", AttestURI: v.AttestURI,
			PublicNetworkAccess:          service.PublicNetworkAccess(v.Settings),
			TPMAttestationAuthentication: service.TPMAttestationAuthentication(v.Settings),
			PrivateEndpointConnections:   []any{}},
	}
}

// armJWK is a JWK of policySigningCertificates: only the certificate
// matters.
type armJWK struct {
	Kty string   `json:"kty"`
	X5c []string `json:"x5c"`
}

// armCreate is AttestationServiceCreationParams.
type armCreate struct {
	Location   *string           `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties *struct {
		PolicySigningCertificates *struct {
			Keys []armJWK `json:"keys"`
		} `json:"policySigningCertificates"`
		PublicNetworkAccess          *string `json:"publicNetworkAccess"`
		TPMAttestationAuthentication *string `json:"tpmAttestationAuthentication"`
	} `json:"properties"`
}

// armPatch is AttestationServicePatchParams.
type armPatch struct {
	Tags       map[string]string `json:"tags"`
	Properties *struct {
		PublicNetworkAccess          *string `json:"publicNetworkAccess"`
		TPMAttestationAuthentication *string `json:"tpmAttestationAuthentication"`
	} `json:"properties"`
}

// decodeARM reads a JSON body; unknown members are ignored, as ARM does.
func decodeARM(r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	raw, err := readBody(r, MaxMgmtBody)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return errARMBadContent.Wrapf("the request body is empty")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return errARMBadContent.Wrapf("%v", err)
	}
	return nil
}

// checkNetworkAccess checks publicNetworkAccess and
// tpmAttestationAuthentication: Enabled or Disabled, case-insensitively.
// Both are kept and returned. publicNetworkAccess Disabled closes the
// provider's data plane to every network the operator did not declare
// private (avow serve --private-networks; network.go);
// tpmAttestationAuthentication is enforced once avow has TPM attestation
// (service/access.go).
func checkNetworkAccess(publicNetworkAccess, tpm *string) error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"publicNetworkAccess", publicNetworkAccess}, {"tpmAttestationAuthentication", tpm}} {
		if f.v != nil && !strings.EqualFold(*f.v, service.AccessEnabled) && !strings.EqualFold(*f.v, service.AccessDisabled) {
			return errARMBadContent.Wrapf("%s %q is neither Enabled nor Disabled", f.name, *f.v)
		}
	}
	return nil
}

// armCertificates reads policySigningCertificates: each key's x5c[0] is a
// policy signer certificate (base64 DER).
func armCertificates(keys []armJWK) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for i, k := range keys {
		if len(k.X5c) == 0 {
			return nil, errARMBadCertificate.Wrapf("policySigningCertificates.keys[%d] has no x5c certificate", i)
		}
		der, err := b64("x5c", k.X5c[0])
		if err != nil {
			return nil, errARMBadCertificate.Wrapf("policySigningCertificates.keys[%d].x5c[0] is not base64", i)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, errARMBadCertificate.Wrapf("policySigningCertificates.keys[%d].x5c[0]: %v", i, err)
		}
		out = append(out, cert)
	}
	return out, nil
}

func (s *Server) armProvider(w http.ResponseWriter, r *http.Request, who *service.Principal, req *armRequest) {
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet:
		v, err := s.svc.GetProviderIn(ctx, who, req.scope, req.name)
		if err != nil {
			s.writeARMError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, armProviderOut(v))
	case http.MethodPut:
		s.armPut(w, r, who, req)
	case http.MethodPatch:
		if !s.armAllow(w, r, who, store.RoleOwner) {
			return
		}
		var in armPatch
		if err := decodeARM(r, &in); err != nil {
			s.writeARMError(w, r, err)
			return
		}
		up := service.MetadataUpdate{Tags: in.Tags}
		if p := in.Properties; p != nil {
			if err := checkNetworkAccess(p.PublicNetworkAccess, p.TPMAttestationAuthentication); err != nil {
				s.writeARMError(w, r, err)
				return
			}
			up.PublicNetworkAccess, up.TPMAttestationAuthentication = p.PublicNetworkAccess, p.TPMAttestationAuthentication
		}
		v, err := s.svc.UpdateProviderMetadata(ctx, who, req.scope, req.name, up)
		if err != nil {
			s.writeARMError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, armProviderOut(v))
	case http.MethodDelete:
		err := s.svc.DeleteProviderIn(ctx, who, req.scope, req.name)
		switch {
		case errors.Is(err, service.ErrProviderNotFound):
			w.WriteHeader(http.StatusNoContent)
		case err != nil:
			s.writeARMError(w, r, err)
		default:
			w.WriteHeader(http.StatusOK)
		}
	default:
		s.armMethodNotAllowed(w, r, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete)
	}
}

// armPut creates a provider (201) or replaces the location and tags of an
// existing one of the same scope (200). A provider's trust model cannot
// change, and the signer certificates of an existing Isolated provider are
// managed on its data plane (certificates:add and :remove), so
// policySigningCertificates only matter on creation.
func (s *Server) armPut(w http.ResponseWriter, r *http.Request, who *service.Principal, req *armRequest) {
	ctx := r.Context()
	if !s.armAllow(w, r, who, store.RoleOwner) {
		return
	}
	var in armCreate
	if err := decodeARM(r, &in); err != nil {
		s.writeARMError(w, r, err)
		return
	}
	if in.Location == nil || strings.TrimSpace(*in.Location) == "" {
		s.writeARMError(w, r, errARMLocationRequired)
		return
	}
	var keys []armJWK
	var access, tpm *string // nil: unchanged on an existing provider, Enabled on a new one
	if p := in.Properties; p != nil {
		if err := checkNetworkAccess(p.PublicNetworkAccess, p.TPMAttestationAuthentication); err != nil {
			s.writeARMError(w, r, err)
			return
		}
		if p.PolicySigningCertificates != nil {
			keys = p.PolicySigningCertificates.Keys
		}
		access, tpm = p.PublicNetworkAccess, p.TPMAttestationAuthentication
	}
	certs, err := armCertificates(keys)
	if err != nil {
		s.writeARMError(w, r, err)
		return
	}
	if err := service.CheckTags(in.Tags); err != nil {
		s.writeARMError(w, r, err)
		return
	}
	model := store.TrustModelAAD
	if len(certs) > 0 {
		model = store.TrustModelIsolated
	}
	tags := in.Tags
	if tags == nil {
		tags = map[string]string{} // PUT replaces the resource: no tags means none
	}
	existing, err := s.svc.GetProvider(ctx, who, req.name)
	switch {
	case err == nil:
		if !req.scope.Contains(existing.Metadata) {
			s.writeARMError(w, r, errARMNameTaken.Wrapf("provider %s exists outside subscription %s, resource group %s (in another scope, or created with avow's native API); provider names are unique on a server",
				existing.Name, req.scope.SubscriptionID, req.scope.ResourceGroup))
			return
		}
		if existing.TrustModel != model {
			s.writeARMError(w, r, errARMTrustModel.Wrapf("provider %s is %s; the request asks for %s", existing.Name, existing.TrustModel, model))
			return
		}
		loc := strings.TrimSpace(*in.Location)
		v, err := s.svc.UpdateProviderMetadata(ctx, who, req.scope, req.name, service.MetadataUpdate{Location: &loc, Tags: tags,
			PublicNetworkAccess: access, TPMAttestationAuthentication: tpm})
		if err != nil {
			s.writeARMError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, armProviderOut(v))
		return
	case !errors.Is(err, service.ErrProviderNotFound):
		s.writeARMError(w, r, err)
		return
	}
	// Names are DNS labels (the attest URI's host on MAA), case-insensitive:
	// avow keeps them lowercase.
	name := strings.ToLower(req.name)
	if !service.ValidProviderName(name) {
		s.writeARMError(w, r, errARMBadName.Wrapf("%q: avow provider names are 3-24 letters, digits or '-', starting with a letter (the name is a DNS label in MAA)", req.name))
		return
	}
	v, err := s.svc.CreateProvider(ctx, who, service.ProviderRequest{
		Name: name, TrustModel: model, PolicySigningCertificates: certs,
		Settings: &service.ProviderSettings{PublicNetworkAccess: access, TPMAttestationAuthentication: tpm},
		Metadata: store.Metadata{SubscriptionID: req.scope.SubscriptionID, ResourceGroup: req.scope.ResourceGroup,
			Location: strings.TrimSpace(*in.Location), Tags: tags},
	})
	if err != nil {
		s.writeARMError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, armProviderOut(v))
}

// armOperations is the operations list of the resource provider.
var armOperations = func() []map[string]any {
	op := func(name, operation, description string) map[string]any {
		return map[string]any{"name": name, "display": map[string]string{
			"provider": "Microsoft Azure Attestation (avow)", "resource": "Attestation providers",
			"operation": operation, "description": description}}
	}
	return []map[string]any{
		op(armType+"/read", "Get attestation providers", "Gets an attestation provider or lists them."),
		op(armType+"/write", "Create or update attestation providers", "Creates an attestation provider or updates its tags."),
		op(armType+"/delete", "Delete attestation providers", "Deletes an attestation provider."),
		op(armType+"/attestation/read", "Get attestation policies", "Reads the policies and policy signer certificates of an attestation provider."),
		op(armType+"/attestation/write", "Set attestation policies", "Sets the policies and policy signer certificates of an attestation provider."),
		op(armType+"/attestation/delete", "Reset attestation policies", "Resets the policies of an attestation provider."),
	}
}()
