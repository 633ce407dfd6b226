package service

import (
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"strings"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
)

// CanonicalType returns the registered spelling of an attestation type
// (matched case-insensitively, as MAA does), or ErrUnknownType.
func (s *Service) CanonicalType(t string) (string, error) {
	typ, err := s.AttestationType(t)
	if err != nil {
		return "", err
	}
	return typ.Name(), nil
}

// AttestationType returns the registered type of a name, or ErrUnknownType.
func (s *Service) AttestationType(t string) (attestation.Type, error) {
	typ, ok := s.types.Lookup(t)
	if !ok {
		return nil, ErrUnknownType.Wrapf("%q (supported: %s)", t, strings.Join(s.types.Names(), ", "))
	}
	return typ, nil
}

// DefaultPolicy returns the built-in default policy text of a type.
func (s *Service) DefaultPolicy(attType string) (string, error) {
	typ, err := s.AttestationType(attType)
	if err != nil {
		return "", err
	}
	return typ.DefaultPolicy(), nil
}

// activePolicy returns the provider's compiled policy for a type: the
// stored one, or the default.
func (s *Service) activePolicy(ctx context.Context, provider, attType string) (*activePolicy, error) {
	c := s.caches()
	key := policyKey(provider, attType)
	if ap, ok := lookup(s, c, c.policies, key, CachePolicy); ok {
		return ap, nil
	}
	var ap *activePolicy
	stored, err := s.st.GetPolicy(ctx, provider, attType)
	switch {
	case errors.Is(err, store.ErrNotFound):
		text, err := s.DefaultPolicy(attType)
		if err != nil {
			return nil, err
		}
		compiled, err := policy.Parse(text)
		if err != nil {
			return nil, errs.Internal("the built-in default policy does not compile").Wrap(err)
		}
		ap = newActivePolicy(&activePolicy{compiled: compiled, document: policy.UnsignedDocument(text), hash: policy.PolicyHash(text), isDefault: true})
	case err != nil:
		return nil, mapStoreErr(err, "policy")
	default:
		compiled, err := policy.Parse(stored.Text)
		if err != nil {
			return nil, errs.Internal("a stored policy does not compile").Wrap(err)
		}
		ap = newActivePolicy(&activePolicy{compiled: compiled, document: stored.Document, hash: string(stored.Hash)})
		if stored.SignerCert != nil {
			cert, err := x509.ParseCertificate(stored.SignerCert)
			if err != nil {
				return nil, errs.Internal("a stored policy signer cannot be parsed").Wrap(err)
			}
			ap.signer = signerJWK(cert)
		}
	}
	putCached(c, c.policies, key, ap)
	return ap, nil
}

// signerJWK is the JWK MAA puts in x-ms-policy-signer and
// x-ms-policy-certificates: key type and certificate.
func signerJWK(cert *x509.Certificate) map[string]any {
	kty := "RSA"
	if cert.PublicKeyAlgorithm == x509.ECDSA {
		kty = "EC"
	}
	return map[string]any{"kty": kty, "x5c": []any{base64.StdEncoding.EncodeToString(cert.Raw)}}
}

// managementToken signs a policy-management result (1 h lifetime, no jti,
// as MAA's).
func (s *Service) managementToken(ctx context.Context, provider string, claims map[string]any) (string, error) {
	key, err := s.activeKey(ctx, provider)
	if err != nil {
		return "", err
	}
	return token.Issue(claims, key, s.AttestURI(provider), s.clock.Now(), token.ManagementLifetime, "")
}

// GetPolicy returns MAA's GET /policies/{type} result token: x-ms-policy is
// the stored JWS exactly as uploaded, or the default as an unsigned JWS.
func (s *Service) GetPolicy(ctx context.Context, who *Principal, provider, attType string) (string, error) {
	if err := require(who, store.RoleReader); err != nil {
		return "", err
	}
	p, attType, err := s.providerAndType(ctx, provider, attType)
	if err != nil {
		return "", err
	}
	ap, err := s.activePolicy(ctx, p.Name, attType)
	if err != nil {
		return "", err
	}
	return s.managementToken(ctx, p.Name, map[string]any{"x-ms-policy": ap.document})
}

// PolicyText returns the policy text in force for a type (for the CLI and
// the quickstart).
func (s *Service) PolicyText(ctx context.Context, provider, attType string) (string, error) {
	p, attType, err := s.providerAndType(ctx, provider, attType)
	if err != nil {
		return "", err
	}
	ap, err := s.activePolicy(ctx, p.Name, attType)
	if err != nil {
		return "", err
	}
	return ap.compiled.Text(), nil
}

func (s *Service) providerAndType(ctx context.Context, provider, attType string) (store.Provider, string, error) {
	p, err := s.provider(ctx, provider)
	if err != nil {
		return p, "", err
	}
	t, err := s.CanonicalType(attType)
	return p, t, err
}

// checkSigner enforces the trust model on a policy-management document:
// an Isolated provider needs a signature by one of its signer certificates.
func (s *Service) checkSigner(ctx context.Context, tx store.Reader, p store.Provider, doc *policy.Document) error {
	if p.TrustModel != store.TrustModelIsolated {
		return nil
	}
	if !doc.Signed || len(doc.Certificates) == 0 {
		return ErrSignerNotTrusted.Wrapf("provider %s uses the Isolated trust model and the document is unsigned", p.Name)
	}
	signers, err := tx.ListSigners(ctx, p.Name)
	if err != nil {
		return mapStoreErr(err, "provider "+p.Name)
	}
	want := store.Thumbprint(doc.Certificates[0].Raw)
	for _, sg := range signers {
		if sg.Thumbprint == want {
			return nil
		}
	}
	return ErrSignerNotTrusted.Wrapf("the signing certificate %q (SHA-256 %s) is not a policy signer of provider %s",
		doc.Certificates[0].Subject.CommonName, want, p.Name)
}

// parseDocument reads the body of a policy-management operation (op, one
// of policy.OpSetPolicy, OpResetPolicy, OpAddSigner, OpRemoveSigner) and
// refuses it unless it was made for op and is valid now: its kind and
// x-avow-operation, its iat/nbf/exp, and the validity period of the
// certificate that signed it. Whether the signer is trusted is checkSigner's
// decision.
func (s *Service) parseDocument(jws, op string) (*policy.Document, error) {
	doc, err := policy.ParseManagementDocument(strings.TrimSpace(jws))
	if err != nil {
		return nil, ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
	}
	now := s.clock.Now()
	if err := doc.CheckUse(op, now, policy.DocumentClockSkew); err != nil {
		return nil, err
	}
	if doc.Signed {
		if err := policy.CheckCertificateTime(doc.Certificates[0], now, "the signing certificate"); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// SetPolicy stores a policy document (MAA's PUT /policies/{type}) and
// returns the result token: x-ms-policy-result Updated, the token hash,
// and the signer when the document was signed. The warnings are the
// document's and the policy's lint findings (policy_unknown_claim…): the
// policy is stored all the same.
func (s *Service) SetPolicy(ctx context.Context, who *Principal, provider, attType, jws string) (string, []policy.Warning, error) {
	if err := require(who, store.RolePolicyAdmin); err != nil {
		return "", nil, err
	}
	if err := s.refuseShared(provider, "set policy"); err != nil {
		return "", nil, err
	}
	p, attType, err := s.providerAndType(ctx, provider, attType)
	if err != nil {
		return "", nil, err
	}
	doc, err := s.parseDocument(jws, policy.OpSetPolicy)
	if err != nil {
		return "", nil, err
	}
	if doc.Text == "" {
		return "", nil, ErrPolicyInvalid.Wrapf("the document carries no policy text")
	}
	compiled, err := policy.Parse(doc.Text)
	if err != nil {
		return "", nil, ErrPolicyInvalid.Wrap(err)
	}
	if _, err := baselineOf(compiled); err != nil {
		return "", nil, ErrPolicyInvalid.Wrapf("configurationrules: %v", err)
	}
	warnings := append(slices.Clone(doc.Warnings), compiled.Warnings()...)
	now := s.clock.Now()
	stored := store.Policy{Provider: p.Name, AttestationType: attType, Document: doc.Raw, Text: doc.Text,
		Hash: []byte(doc.PolicyHash()), UpdatedAt: now}
	if doc.Signed {
		stored.SignerCert = doc.Certificates[0].Raw
	}
	err = s.st.WithTx(ctx, func(tx store.Tx) error {
		if err := s.checkSigner(ctx, tx, p, doc); err != nil {
			return err
		}
		if _, err := tx.SetPolicy(ctx, stored); err != nil {
			return err
		}
		details := map[string]string{"type": attType, "policy_hash": doc.PolicyHash(), "signed": boolString(doc.Signed)}
		if doc.Signed {
			details["signer"] = store.Thumbprint(doc.Certificates[0].Raw)
		}
		return tx.AppendAudit(ctx, audit(who, p.Name, "policy.set", now, details))
	})
	if err != nil {
		return "", nil, mapStoreErr(err, "provider "+p.Name)
	}
	s.invalidate(0)
	result := map[string]any{"x-ms-policy-result": "Updated", "x-ms-policy-token-hash": doc.TokenHash()}
	if doc.Signed {
		result["x-ms-policy-signer"] = signerJWK(doc.Certificates[0])
	}
	tok, err := s.managementToken(ctx, p.Name, result)
	if err != nil {
		return "", nil, err
	}
	return tok, warnings, nil
}

// ResetPolicy removes a stored policy (MAA's POST /policies/{type}:reset):
// the default applies again. The body must be a JWS with an empty payload
// (unsigned "eyJhbGciOiJub25lIn0..", or "<header>..<signature>"), signed
// for Isolated providers: a policy document, such as the signed policy any
// reader gets from GET /policies/{type}, is refused.
func (s *Service) ResetPolicy(ctx context.Context, who *Principal, provider, attType, jws string) (string, error) {
	if err := require(who, store.RolePolicyAdmin); err != nil {
		return "", err
	}
	if err := s.refuseShared(provider, "reset policy"); err != nil {
		return "", err
	}
	p, attType, err := s.providerAndType(ctx, provider, attType)
	if err != nil {
		return "", err
	}
	doc, err := s.parseDocument(jws, policy.OpResetPolicy)
	if err != nil {
		return "", err
	}
	now := s.clock.Now()
	err = s.st.WithTx(ctx, func(tx store.Tx) error {
		if err := s.checkSigner(ctx, tx, p, doc); err != nil {
			return err
		}
		if err := tx.DeletePolicy(ctx, p.Name, attType); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.AppendAudit(ctx, audit(who, p.Name, "policy.reset", now, map[string]string{"type": attType}))
	})
	if err != nil {
		return "", mapStoreErr(err, "provider "+p.Name)
	}
	s.invalidate(0)
	return s.managementToken(ctx, p.Name, map[string]any{"x-ms-policy-result": "Removed"})
}

// Certificates returns MAA's GET /certificates result token: the
// provider's policy signer certificates as a JWKS.
func (s *Service) Certificates(ctx context.Context, who *Principal, provider string) (string, error) {
	if err := require(who, store.RoleReader); err != nil {
		return "", err
	}
	p, err := s.provider(ctx, provider)
	if err != nil {
		return "", err
	}
	signers, err := s.st.ListSigners(ctx, p.Name)
	if err != nil {
		return "", mapStoreErr(err, "provider "+p.Name)
	}
	keys := make([]any, 0, len(signers))
	for _, sg := range signers {
		cert, err := x509.ParseCertificate(sg.Certificate)
		if err != nil {
			return "", errs.Internal("a stored signer certificate cannot be parsed").Wrap(err)
		}
		keys = append(keys, signerJWK(cert))
	}
	return s.managementToken(ctx, p.Name, map[string]any{"x-ms-policy-certificates": map[string]any{"keys": keys}})
}

// ModifySigners adds or removes a policy signer certificate (MAA's
// POST /certificates:add and :remove). The body is a JWS signed by a current
// signer whose payload names the certificate.
func (s *Service) ModifySigners(ctx context.Context, who *Principal, provider string, add bool, jws string) (string, error) {
	if err := require(who, store.RolePolicyAdmin); err != nil {
		return "", err
	}
	if err := s.refuseShared(provider, "policy signer change"); err != nil {
		return "", err
	}
	p, err := s.provider(ctx, provider)
	if err != nil {
		return "", err
	}
	if p.TrustModel != store.TrustModelIsolated {
		return "", ErrNotIsolated.Wrapf("provider %s uses the %s trust model", p.Name, p.TrustModel)
	}
	op := policy.OpRemoveSigner
	if add {
		op = policy.OpAddSigner
	}
	doc, err := s.parseDocument(jws, op)
	if err != nil {
		return "", err
	}
	cert, now := doc.PolicyCertificate, s.clock.Now()
	if add {
		// A certificate that cannot sign now is not added; an expired one
		// can still be removed.
		if err := policy.CheckCertificateTime(cert, now, "the certificate to add"); err != nil {
			return "", err
		}
	}
	thumb := store.Thumbprint(cert.Raw)
	event := "signer.remove"
	if add {
		event = "signer.add"
	}
	err = s.st.WithTx(ctx, func(tx store.Tx) error {
		if err := s.checkSigner(ctx, tx, p, doc); err != nil {
			return err
		}
		if add {
			if _, err := tx.AddSigner(ctx, store.Signer{Provider: p.Name, Certificate: cert.Raw, AddedAt: now}); err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
		} else {
			signers, err := tx.ListSigners(ctx, p.Name)
			if err != nil {
				return err
			}
			if len(signers) == 1 && signers[0].Thumbprint == thumb {
				return ErrLastSigner.Wrapf("provider %s", p.Name)
			}
			if err := tx.RemoveSigner(ctx, p.Name, thumb); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return tx.AppendAudit(ctx, audit(who, p.Name, event, now, map[string]string{"certificate": thumb, "subject": cert.Subject.String()}))
	})
	if err != nil {
		return "", mapStoreErr(err, "provider "+p.Name)
	}
	s.invalidate(0)
	result := "IsAbsent"
	if add {
		result = "IsPresent"
	}
	sha := sha1.Sum(cert.Raw)
	return s.managementToken(ctx, p.Name, map[string]any{
		"x-ms-certificate-thumbprint":    strings.ToUpper(hex.EncodeToString(sha[:])),
		"x-ms-policycertificates-result": result,
	})
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
