package service

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/avowhq/avow/store"
)

func TestProviderScopes(t *testing.T) {
	s := newTestService(t, &fixedClock{testNow})
	ctx := context.Background()
	in := Scope{SubscriptionID: "SUB-1", ResourceGroup: "rg-a"}
	md := store.Metadata{SubscriptionID: "sub-1", ResourceGroup: "RG-A", Location: "East US", Tags: map[string]string{"env": "ci"}}
	for _, name := range []string{"alpha", "beta"} {
		if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: name, Metadata: md}); err != nil {
			t.Fatal(err)
		}
	}
	other := md
	other.ResourceGroup = "rg-b"
	if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "gamma", Metadata: other}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "native"}); err != nil {
		t.Fatal(err)
	}

	names := func(sc Scope) string {
		t.Helper()
		vs, err := s.ListProvidersIn(ctx, owner, sc)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range vs {
			out = append(out, v.Name)
		}
		return strings.Join(out, ",")
	}
	if got := names(in); got != "alpha,beta" {
		t.Errorf("resource group: %s", got)
	}
	if got := names(Scope{SubscriptionID: "sub-1"}); got != "alpha,beta,gamma" {
		t.Errorf("subscription: %s", got)
	}
	if got := names(Scope{SubscriptionID: "sub-2"}); got != "" {
		t.Errorf("other subscription: %s", got)
	}
	if got := names(Scope{}); got != "" {
		t.Errorf("no subscription lists the native provider: %s", got)
	}

	v, err := s.GetProviderIn(ctx, owner, in, "ALPHA")
	if err != nil || v.Name != "alpha" || v.Metadata.Location != "East US" || v.Metadata.Tags["env"] != "ci" {
		t.Fatalf("GetProviderIn: %+v %v", v, err)
	}
	for _, tc := range []struct {
		sc   Scope
		name string
	}{{in, "gamma"}, {in, "native"}, {in, "missing"}, {Scope{SubscriptionID: "sub-2", ResourceGroup: "rg-a"}, "alpha"}} {
		if _, err := s.GetProviderIn(ctx, owner, tc.sc, tc.name); !errors.Is(err, ErrProviderNotFound) {
			t.Errorf("GetProviderIn %+v %s: %v", tc.sc, tc.name, err)
		}
	}
	reader := &Principal{ID: "r", Role: store.RoleReader}
	if _, err := s.GetProviderIn(ctx, reader, in, "alpha"); err != nil {
		t.Errorf("reader: %v", err)
	}
	if _, err := s.GetProviderIn(ctx, nil, in, "alpha"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("anonymous: %v", err)
	}
}

func TestUpdateProviderMetadata(t *testing.T) {
	s := newTestService(t, &fixedClock{testNow})
	ctx := context.Background()
	sc := Scope{SubscriptionID: "sub-1", ResourceGroup: "rg"}
	md := store.Metadata{SubscriptionID: "sub-1", ResourceGroup: "rg", Location: "East US", Tags: map[string]string{"a": "1"}}
	created, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "alpha", Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "native"}); err != nil {
		t.Fatal(err)
	}

	// nil tags and location: unchanged.
	v, err := s.UpdateProviderMetadata(ctx, owner, sc, "alpha", MetadataUpdate{})
	if err != nil || !maps.Equal(v.Metadata.Tags, md.Tags) || v.Metadata.Location != "East US" || v.Version != created.Version+1 {
		t.Fatalf("no-op update: %+v %v", v, err)
	}
	loc := "West Europe"
	v, err = s.UpdateProviderMetadata(ctx, owner, sc, "alpha", MetadataUpdate{Location: &loc, Tags: map[string]string{"b": "2", "c": "3"}})
	if err != nil || !maps.Equal(v.Metadata.Tags, map[string]string{"b": "2", "c": "3"}) || v.Metadata.Location != loc {
		t.Fatalf("update: %+v %v", v, err)
	}
	if v.Metadata.SubscriptionID != "sub-1" || v.Metadata.ResourceGroup != "rg" || v.TrustModel != store.TrustModelAAD {
		t.Errorf("update changed more than metadata: %+v", v)
	}
	got, err := s.GetProvider(ctx, owner, "alpha")
	if err != nil || !maps.Equal(got.Metadata.Tags, v.Metadata.Tags) {
		t.Fatalf("stored: %+v %v", got, err)
	}
	v, err = s.UpdateProviderMetadata(ctx, owner, sc, "alpha", MetadataUpdate{Tags: map[string]string{}})
	if err != nil || len(v.Metadata.Tags) != 0 {
		t.Fatalf("clearing tags: %+v %v", v, err)
	}
	entries, err := s.st.ListAudit(ctx, store.AuditFilter{Provider: "alpha", OperationPrefix: "provider.metadata"})
	if err != nil || len(entries) != 3 || entries[1].Details["tags"] != "b,c" || entries[1].Details["location"] != loc || entries[1].Actor != owner.ID {
		t.Errorf("audit: %+v %v", entries, err)
	}

	policyAdmin := &Principal{ID: "p", Role: store.RolePolicyAdmin}
	if _, err := s.UpdateProviderMetadata(ctx, policyAdmin, sc, "alpha", MetadataUpdate{}); !errors.Is(err, ErrForbidden) {
		t.Errorf("policy-admin: %v", err)
	}
	if _, err := s.UpdateProviderMetadata(ctx, owner, sc, "native", MetadataUpdate{Tags: map[string]string{"x": "y"}}); !errors.Is(err, ErrProviderNotFound) {
		t.Errorf("out of scope: %v", err)
	}
	if n, _ := s.GetProvider(ctx, owner, "native"); len(n.Metadata.Tags) != 0 {
		t.Errorf("an out-of-scope provider was changed: %+v", n.Metadata)
	}
	if _, err := s.UpdateProviderMetadata(ctx, owner, sc, "missing", MetadataUpdate{}); !errors.Is(err, ErrProviderNotFound) {
		t.Errorf("missing: %v", err)
	}
	many := map[string]string{}
	for i := 0; i < 51; i++ {
		many[strings.Repeat("k", i+1)] = "v"
	}
	for _, tags := range []map[string]string{many, {"": "v"}, {"k": strings.Repeat("v", 257)}, {strings.Repeat("k", 513): "v"}} {
		if _, err := s.UpdateProviderMetadata(ctx, owner, sc, "alpha", MetadataUpdate{Tags: tags}); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("bad tags (%d): %v", len(tags), err)
		}
	}
}

func TestDeleteProviderIn(t *testing.T) {
	s := newTestService(t, &fixedClock{testNow})
	ctx := context.Background()
	sc := Scope{SubscriptionID: "sub-1", ResourceGroup: "rg"}
	if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "alpha", Metadata: store.Metadata{SubscriptionID: "sub-1", ResourceGroup: "rg"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "native"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProviderIn(ctx, owner, sc, "native"); !errors.Is(err, ErrProviderNotFound) {
		t.Errorf("out of scope: %v", err)
	}
	if _, err := s.GetProvider(ctx, owner, "native"); err != nil {
		t.Errorf("an out-of-scope provider was deleted: %v", err)
	}
	if err := s.DeleteProviderIn(ctx, &Principal{ID: "r", Role: store.RoleReader}, sc, "alpha"); !errors.Is(err, ErrForbidden) {
		t.Errorf("reader: %v", err)
	}
	if err := s.DeleteProviderIn(ctx, owner, sc, "alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetProvider(ctx, owner, "alpha"); !errors.Is(err, ErrProviderNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if err := s.DeleteProviderIn(ctx, owner, sc, "alpha"); !errors.Is(err, ErrProviderNotFound) {
		t.Errorf("second delete: %v", err)
	}
	entries, err := s.st.ListAudit(ctx, store.AuditFilter{Provider: "alpha", OperationPrefix: "provider.delete"})
	if err != nil || len(entries) != 1 || entries[0].Details["subscription"] != "sub-1" {
		t.Errorf("audit: %+v %v", entries, err)
	}
}

func TestValidProviderName(t *testing.T) {
	for name, want := range map[string]bool{"abc": true, "a-b-1": true, "ab": false, "Abc": false, "1ab": false,
		strings.Repeat("a", 24): true, strings.Repeat("a", 25): false} {
		if ValidProviderName(name) != want {
			t.Errorf("%q: want %v", name, want)
		}
	}
}
