package nvgpu

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/vectors"
)

const (
	complete = "h100-550.90.07-complete"
	coco     = "h100-coco-580.95.05-evidence-only"
	trustee  = "trustee-chain-negatives"
)

func vec(t testing.TB, set, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectors.Dir(t, "nvgpu"), set, file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func expected(t testing.TB, set string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(vec(t, set, "expected.json"), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func evidence(t testing.TB, set, report, chain string) *Evidence {
	t.Helper()
	ev, err := ParseEvidence("HOPPER", vec(t, set, chain), vec(t, set, report))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func completeEvidence(t testing.TB) *Evidence {
	return evidence(t, complete, "evidence/hopperAttestationReport.txt", "evidence/hopperCertChain.txt")
}

func completeCollateral(t testing.TB) *Store {
	t.Helper()
	s, err := LoadDir(filepath.Join(vectors.Dir(t, "nvgpu"), complete))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func completeNonce(t testing.TB) []byte {
	return unhex(t, expected(t, complete)["inputs"].(map[string]any)["nonce"].(string))
}

// TestReportsParseAsExpected compares the parse of every report with its
// set's expected.json: SPDM header fields, lengths, opaque data, blocks.
func TestReportsParseAsExpected(t *testing.T) {
	for _, tc := range []struct{ set, report string }{
		{complete, "evidence/hopperAttestationReport.txt"},
		{coco, "evidence/hopper_coco_report1.txt"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			exp := expected(t, tc.set)["report"].(map[string]any)
			r, err := ParseReport(reportBytes(vec(t, tc.set, tc.report)))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Raw) != int(exp["report_bytes"].(float64)) || r.SignedLen != int(exp["signed_bytes"].(float64)) || r.Trailing != int(exp["trailing_bytes_after_signature"].(float64)) {
				t.Errorf("lengths %d/%d/%d, want %v/%v/%v", len(r.Raw), r.SignedLen, r.Trailing, exp["report_bytes"], exp["signed_bytes"], exp["trailing_bytes_after_signature"])
			}
			spdm := exp["spdm"].(map[string]any)
			req := spdm["request"].(map[string]any)
			if hex.EncodeToString(r.Request.Nonce[:]) != req["nonce"] || int(r.Request.Param1) != int(req["param1"].(float64)) || int(r.Request.Param2) != int(req["param2"].(float64)) {
				t.Errorf("request %+v", r.Request)
			}
			if hex.EncodeToString(r.Response.Nonce[:]) != spdm["responder_nonce"] || r.Response.NumberOfBlocks != int(spdm["number_of_blocks"].(float64)) ||
				r.Response.RecordLength != int(spdm["measurement_record_length"].(float64)) || len(r.Response.OpaqueRaw) != int(spdm["opaque_length"].(float64)) {
				t.Errorf("response nonce %x, %d blocks, record %d, opaque %d", r.Response.Nonce, r.Response.NumberOfBlocks, r.Response.RecordLength, len(r.Response.OpaqueRaw))
			}
			got := r.Response.Opaque.Map()
			for k, v := range exp["opaque"].(map[string]any) {
				want := v
				if f, ok := v.(float64); ok {
					want = strconv.Itoa(int(f))
					got[k] = strconv.Itoa(r.Response.Opaque.Version())
				}
				if got[k] != want {
					t.Errorf("opaque %s = %q, want %q", k, got[k], want)
				}
			}
			blocks := exp["measurement_blocks"].(map[string]any)
			if len(blocks) != len(r.Response.Blocks) {
				t.Errorf("%d blocks, want %d", len(r.Response.Blocks), len(blocks))
			}
			for k, v := range blocks {
				i, _ := strconv.Atoi(k)
				if hex.EncodeToString(r.Measurement(i)) != v {
					t.Errorf("block %d = %x, want %s", i, r.Measurement(i), v)
				}
			}
		})
	}
	// The hex and binary copies of the complete report are the same bytes.
	if !bytes.Equal(reportBytes(vec(t, complete, "evidence/hopperAttestationReport.txt")), vec(t, complete, "evidence/test_raw_gpu_attestation_report.dat")) {
		t.Error("hex and binary copies differ")
	}
}

// TestTrusteeClaimsMeasurements compares the blocks with Trustee's local
// verifier's claims for the same report.
func TestTrusteeClaimsMeasurements(t *testing.T) {
	var claims struct {
		Measurements map[string]string `json:"measurements"`
		Config       map[string]any    `json:"config"`
	}
	if err := json.Unmarshal(vec(t, trustee, "hopperAttestationReport-claims.txt"), &claims); err != nil {
		t.Fatal(err)
	}
	r, err := ParseReport(reportBytes(vec(t, trustee, "hopperAttestationReport.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if len(claims.Measurements) != 64 {
		t.Fatalf("%d measurements in Trustee's claims", len(claims.Measurements))
	}
	for k, v := range claims.Measurements {
		i, _ := strconv.Atoi(k)
		if hex.EncodeToString(r.Measurement(i)) != v {
			t.Errorf("block %d: %x, Trustee %s", i, r.Measurement(i), v)
		}
	}
	if claims.Config["driver_version"] != r.Response.Opaque.DriverVersion() || claims.Config["fwid"] != hex.EncodeToString(r.Response.Opaque.FWID()) {
		t.Errorf("config %v", claims.Config)
	}
}

// TestCompleteH100PerArtifactTime: the complete H100 set passes when each
// OCSP answer is judged at its own thisUpdate and the RIMs at 2025-10-24,
// the verdict of expected.json (and of NVIDIA's verifier at 2025-08-21).
func TestCompleteH100PerArtifactTime(t *testing.T) {
	exp := expected(t, complete)
	pa := exp["verdicts"].(map[string]any)["per_artifact_time"].(map[string]any)
	if pa["result"] != "PASS" {
		t.Fatalf("expected.json: %v", pa)
	}
	now := mustTime(t, "2025-10-24T12:00:00Z")
	res, err := Verify(context.Background(), completeEvidence(t), Options{
		Now: now, Nonce: completeNonce(t), Collateral: completeCollateral(t),
		OCSPMode: OCSPAsOfThisUpdate, MaxRevocationAge: 90 * 24 * time.Hour,
	})
	if err != nil {
		t.Fatalf("%v\nchecks %+v", err, res.Checks)
	}
	asOf := pa["revocation_as_of"].(map[string]any)
	if rfc(res.RevocationAsOf) != asOf["device_chain"] {
		t.Errorf("revocation as of %s, want %s", rfc(res.RevocationAsOf), asOf["device_chain"])
	}
	if rfc(oldest(res.DriverRIM.OCSP, res.VBIOSRIM.OCSP)) != asOf["rim_chains"] {
		t.Errorf("RIM revocation as of %s, want %s", rfc(oldest(res.DriverRIM.OCSP, res.VBIOSRIM.OCSP)), asOf["rim_chains"])
	}
	// Each answer judged at its own time, as expected.json lists them.
	o := exp["ocsp"].(map[string]any)
	want := map[string]string{}
	for _, group := range []string{"device_chain", "rim_chains"} {
		for _, v := range o[group].(map[string]any) {
			m := v.(map[string]any)
			want[m["serial"].(string)] = m["this_update"].(string)
		}
	}
	all := append(append(append([]OCSPStatus{}, res.DeviceOCSP...), res.DriverRIM.OCSP...), res.VBIOSRIM.OCSP...)
	if len(all) != 3+3+3 {
		t.Errorf("%d OCSP statuses", len(all))
	}
	for _, s := range all {
		if s.Status != "good" || want[s.Serial] != rfc(s.ThisUpdate) || !s.JudgedAt.Equal(s.ThisUpdate) {
			t.Errorf("OCSP %s: %s, thisUpdate %s judged %s; expected.json thisUpdate %s", s.Serial, s.Status, rfc(s.ThisUpdate), rfc(s.JudgedAt), want[s.Serial])
		}
	}
	// Claims-like values: expected.json and NRAS's own claims.
	nv := exp["expected_claims_nvidia_v3_shape"].(map[string]any)
	if res.HWModel != nv["hwmodel"] || res.UEID != nv["ueid"] || res.OEMID != nv["oemid"] || res.MeasRes != nv["measres"] ||
		res.DriverVersion != nv["x-nvidia-gpu-driver-version"] || res.VBIOSVersion != nv["x-nvidia-gpu-vbios-version"] {
		t.Errorf("result %s %s %s %s %s %s, want %v", res.HWModel, res.UEID, res.OEMID, res.MeasRes, res.DriverVersion, res.VBIOSVersion, nv)
	}
	rims := exp["rims"].(map[string]any)
	for name, rr := range map[string]*RIMResult{"driver": res.DriverRIM, "vbios": res.VBIOSRIM} {
		e := rims[name].(map[string]any)
		if rr.TagID != e["tagId"] || rr.Version != e["colloquialVersion"] || rr.CertExpired {
			t.Errorf("%s RIM %+v", name, rr)
		}
		ids := exp["inputs"].(map[string]any)["rim_ids"].(map[string]any)
		if rr.ID != ids[name] {
			t.Errorf("%s RIM id %s, want %s", name, rr.ID, ids[name])
		}
	}
	for _, c := range []string{"report_parsed", "nonce_match", "report_signature", "cert_chain", "fwid_match", "cert_chain_ocsp", "driver_rim", "vbios_rim", "measurements_match"} {
		if ok, ran := res.Checks.Get(c); !ok || !ran {
			t.Errorf("check %s: ok %v ran %v", c, ok, ran)
		}
	}
}

// TestCompleteH100NoSingleInstant: judged at any one instant — every OCSP
// answer current at that instant — the complete set fails: the device
// chain's answers expired on 2025-08-22, the RIM chains' were produced on
// 2025-10-24. The named instants of expected.json and a sweep over the
// whole period both fail.
func TestCompleteH100NoSingleInstant(t *testing.T) {
	ev, coll, nonce := completeEvidence(t), completeCollateral(t), completeNonce(t)
	verify := func(at time.Time) error {
		_, err := Verify(context.Background(), ev, Options{Now: at, Nonce: nonce, Collateral: coll, OCSPMode: OCSPCurrent})
		return err
	}
	for _, tc := range []struct {
		at   string
		want error
	}{
		{"2025-10-24T12:00:00Z", ErrRevocationStale}, // device-chain answers stale
		{"2025-08-21T12:00:00Z", ErrRevocationStale}, // RIM answers not yet issued
		{"2026-12-08T00:00:00Z", ErrRevocationStale}, // everything stale (and RIM certs expired)
	} {
		if err := verify(mustTime(t, tc.at)); !errors.Is(err, tc.want) {
			t.Errorf("at %s: %v, want %v", tc.at, err, tc.want)
		}
	}
	// The answers' validity windows have no common instant: the latest
	// thisUpdate is after the earliest nextUpdate.
	var latestThis, earliestNext time.Time
	var instants []time.Time
	for _, g := range []string{"device_chain", "rim_chains"} {
		for _, a := range expected(t, complete)["ocsp"].(map[string]any)[g].(map[string]any) {
			m := a.(map[string]any)
			this, next := mustTime(t, m["this_update"].(string)), mustTime(t, m["next_update"].(string))
			if this.After(latestThis) {
				latestThis = this
			}
			if earliestNext.IsZero() || next.Before(earliestNext) {
				earliestNext = next
			}
			for _, b := range []time.Time{this, next} {
				instants = append(instants, b.Add(-time.Second), b, b.Add(time.Second))
			}
		}
	}
	if !latestThis.After(earliestNext) {
		t.Fatalf("the answers overlap: latest thisUpdate %s, earliest nextUpdate %s", rfc(latestThis), rfc(earliestNext))
	}
	// Every boundary of every answer, and every twelve hours around them.
	for at := mustTime(t, "2025-08-15T00:00:00Z"); at.Before(mustTime(t, "2025-11-01T00:00:00Z")); at = at.Add(12 * time.Hour) {
		instants = append(instants, at)
	}
	for _, at := range instants {
		if err := verify(at); err == nil {
			t.Fatalf("the complete set passes at the single instant %s", rfc(at))
		}
	}
	// Judged each at its own time but without a bound on their age, the
	// answers would be accepted at any later date; the age bound refuses
	// them.
	_, err := Verify(context.Background(), ev, Options{Now: mustTime(t, "2025-10-24T12:00:00Z"), Nonce: nonce, Collateral: coll,
		OCSPMode: OCSPAsOfThisUpdate, MaxRevocationAge: 30 * 24 * time.Hour})
	if !errors.Is(err, ErrRevocationStale) {
		t.Errorf("device answers 64 days old under a 30-day bound: %v", err)
	}
}

// TestCompleteH100Today: at the vectors' "now" the RIM signer
// certificates have expired: refused, or accepted as of their expiry under
// AllowExpiredRIM (visible in the result).
func TestCompleteH100Today(t *testing.T) {
	exp := expected(t, complete)["verdicts"].(map[string]any)["now_2026-12-08"].(map[string]any)
	if exp["result"] != "FAIL" {
		t.Fatal(exp)
	}
	coll := completeCollateral(t)
	now := mustTime(t, "2026-12-08T00:00:00Z")
	docs, _ := coll.RIMs(context.Background(), "NV_GPU_DRIVER_GH100_550.90.07")
	rim, err := ParseRIM(docs[0])
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Now: now, Collateral: coll, OCSPMode: OCSPAsOfThisUpdate}
	if _, err := VerifyRIM(context.Background(), rim, "NV_GPU_DRIVER_GH100_550.90.07", "550.90.07", opts); !errors.Is(err, ErrRIMCertExpired) {
		t.Errorf("RIM at %s: %v, want expired", rfc(now), err)
	}
	opts.ExpiredRIM = AllowExpiredRIM
	rr, err := VerifyRIM(context.Background(), rim, "NV_GPU_DRIVER_GH100_550.90.07", "550.90.07", opts)
	if err != nil || !rr.CertExpired || rfc(rr.ChainCheckedAt) != "2026-06-01T02:08:29Z" {
		t.Errorf("allowed expired RIM: %+v %v", rr, err)
	}
	// The whole verification at that date, strictly: fails.
	if _, err := Verify(context.Background(), completeEvidence(t), Options{Now: now, Nonce: completeNonce(t), Collateral: coll}); err == nil {
		t.Error("passes today")
	}
}

// TestCompleteH100DerivedNegatives are expected.json's derived negatives.
func TestCompleteH100DerivedNegatives(t *testing.T) {
	now := mustTime(t, "2025-10-24T12:00:00Z")
	base := Options{Now: now, Nonce: completeNonce(t), Collateral: completeCollateral(t), OCSPMode: OCSPAsOfThisUpdate, MaxRevocationAge: 90 * 24 * time.Hour}
	ctx := context.Background()

	o := base
	o.Nonce = make([]byte, 32)
	if _, err := Verify(ctx, completeEvidence(t), o); !errors.Is(err, ErrNonceMismatch) {
		t.Errorf("wrong nonce: %v", err)
	}

	raw := bytes.Clone(reportBytes(vec(t, complete, "evidence/hopperAttestationReport.txt")))
	raw[112] ^= 1
	rep, err := ParseReport(raw)
	if err != nil {
		t.Fatal(err)
	}
	ev := completeEvidence(t)
	ev.Report = rep
	if _, err := Verify(ctx, ev, base); !errors.Is(err, ErrReportSignature) {
		t.Errorf("flipped bit: %v", err)
	}

	ev = completeEvidence(t)
	ev.Chain = ev.Chain[1:]
	if _, err := Verify(ctx, ev, base); err == nil {
		t.Error("chain without leaf passes")
	}

	// The l3 answer (for the provisioner ICA) offered for the BROM cert.
	ev = completeEvidence(t)
	l3, _ := DecodeOCSP(vec(t, complete, "ocsp/test_gpu_certificate_l3_base64encoded_ocsp_response.dat"))
	if _, err := checkOCSP(l3, ev.Chain[1], ev.Chain[2], now, OCSPAsOfThisUpdate, 0); !errors.Is(err, ErrRevocationInvalid) {
		t.Errorf("answer for another certificate: %v", err)
	}
	l4, _ := DecodeOCSP(vec(t, complete, "ocsp/test_gpu_certificate_l4_base64encoded_ocsp_response.dat"))
	if _, err := checkOCSP(l4, ev.Chain[1], ev.Chain[2], now, OCSPAsOfThisUpdate, 0); err != nil {
		t.Errorf("the right answer: %v", err)
	}
	// The right answer with a wrong issuer (the CertID's issuer hashes).
	if _, err := checkOCSP(l4, ev.Chain[1], ev.Chain[3], now, OCSPAsOfThisUpdate, 0); !errors.Is(err, ErrRevocationInvalid) {
		t.Errorf("wrong issuer: %v", err)
	}

	// A RIM with one reference hash changed: digest mismatch.
	doc := vec(t, complete, "rims/NV_GPU_DRIVER_GH100_550.90.07.xml")
	bad := bytes.Replace(doc, []byte(`Hash0="80161aac`), []byte(`Hash0="90161aac`), 1)
	r, err := ParseRIM(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.VerifySignature(); !errors.Is(err, ErrRIMSignature) {
		t.Errorf("tampered RIM: %v", err)
	}
	// A collateral folder whose only driver RIM is tampered: no RIM verifies.
	s := NewStore()
	if _, err := s.AddRIM("NV_GPU_DRIVER_GH100_550.90.07", bad); err != nil {
		t.Fatal(err)
	}
	o = base
	o.Collateral = merged{s, base.Collateral.(*Store)}
	if _, err := Verify(ctx, completeEvidence(t), o); err != nil {
		t.Errorf("a good RIM beside a bad one under the same id must win: %v", err)
	}
	o.Collateral = onlyRIMs{s, base.Collateral.(*Store)}
	if _, err := Verify(ctx, completeEvidence(t), o); !errors.Is(err, ErrRIMSignature) {
		t.Errorf("only a tampered RIM: %v", err)
	}
	// RIMs swapped: version mismatch.
	o.Collateral = swapped{base.Collateral.(*Store)}
	if _, err := Verify(ctx, completeEvidence(t), o); !errors.Is(err, ErrRIMVersionMismatch) {
		t.Errorf("swapped RIMs: %v", err)
	}
	// A different measurement in the report's place: mismatch. Check the
	// comparison directly (a changed report would fail its signature).
	drv, vb := parsedRIM(t, "rims/NV_GPU_DRIVER_GH100_550.90.07.xml"), parsedRIM(t, "rims/NV_GPU_VBIOS_1010_0200_882_96009F0001.xml")
	rep = completeEvidence(t).Report
	rep.Response.Blocks[7].Value = bytes.Repeat([]byte{1}, 48)
	if m, err := compare(rep, drv, vb); !errors.Is(err, ErrMeasurementMismatch) || len(m) != 1 || m[0] != 8 {
		t.Errorf("changed block 8: %v %v", m, err)
	}
	if _, err := compare(rep, drv, drv); !errors.Is(err, ErrRIMIndexConflict) {
		t.Errorf("driver RIM twice: %v", err)
	}
}

func parsedRIM(t *testing.T, f string) *RIM {
	r, err := ParseRIM(vec(t, complete, f))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type merged struct{ a, b *Store }

func (m merged) RIMs(ctx context.Context, id string) ([][]byte, error) {
	x, _ := m.a.RIMs(ctx, id)
	y, _ := m.b.RIMs(ctx, id)
	return append(x, y...), nil
}
func (m merged) OCSP(ctx context.Context, c, i *x509.Certificate) ([][]byte, error) {
	return m.b.OCSP(ctx, c, i)
}

type onlyRIMs struct{ rims, ocsp *Store }

func (m onlyRIMs) RIMs(ctx context.Context, id string) ([][]byte, error) { return m.rims.RIMs(ctx, id) }
func (m onlyRIMs) OCSP(ctx context.Context, c, i *x509.Certificate) ([][]byte, error) {
	return m.ocsp.OCSP(ctx, c, i)
}

type swapped struct{ s *Store }

func (m swapped) RIMs(ctx context.Context, id string) ([][]byte, error) {
	if strings.Contains(id, "DRIVER") {
		return m.s.RIMs(ctx, "NV_GPU_VBIOS_1010_0200_882_96009F0001")
	}
	return m.s.RIMs(ctx, "NV_GPU_DRIVER_GH100_550.90.07")
}
func (m swapped) OCSP(ctx context.Context, c, i *x509.Certificate) ([][]byte, error) {
	return m.s.OCSP(ctx, c, i)
}

// TestRIMsAsExpected: both RIMs' signatures, chains and active indices.
func TestRIMsAsExpected(t *testing.T) {
	exp := expected(t, complete)["rims"].(map[string]any)
	for name, f := range map[string]string{"driver": "rims/NV_GPU_DRIVER_GH100_550.90.07.xml", "vbios": "rims/NV_GPU_VBIOS_1010_0200_882_96009F0001.xml"} {
		e := exp[name].(map[string]any)
		r := parsedRIM(t, f)
		if err := r.VerifySignature(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if r.TagID != e["tagId"] || r.Product != e["product"] || r.ColloquialVersion != e["colloquialVersion"] {
			t.Errorf("%s: %s %s %s", name, r.TagID, r.Product, r.ColloquialVersion)
		}
		chain := e["chain"].([]any)
		if len(r.Chain) != len(chain) {
			t.Fatalf("%s: %d certificates, want %d", name, len(r.Chain), len(chain))
		}
		for i, c := range chain {
			if strings.ToUpper(r.Chain[i].SerialNumber.Text(16)) != c.(map[string]any)["serial"] {
				t.Errorf("%s chain[%d] serial %X", name, i, r.Chain[i].SerialNumber)
			}
		}
		if !bytes.Equal(r.Chain[len(r.Chain)-1].Raw, RIMRoots()[0].Raw) {
			t.Errorf("%s: embedded root is not the pinned root", name)
		}
		if err := verifyChain(r.Chain, RIMRoots(), mustTime(t, e["chain_valid_at"].(map[string]any)["time"].(string)), ErrRIMChain, ErrRIMChain); err != nil {
			t.Errorf("%s chain: %v", name, err)
		}
		var active []any
		for _, m := range r.Measurements {
			if m.Active {
				active = append(active, float64(m.Index))
			}
		}
		if !jsonEqual(active, e["active_indices"]) {
			t.Errorf("%s active %v, want %v", name, active, e["active_indices"])
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestCocoEvidenceOnly: Trustee's CoCo H100 report passes signature,
// chain, nonce and FWID; RIMs and revocation cannot be decided (no
// collateral), which fails the whole verification with a collateral error.
func TestCocoEvidenceOnly(t *testing.T) {
	exp := expected(t, coco)
	if exp["verdicts"].(map[string]any)["signature_chain_nonce_fwid"] != "PASS" {
		t.Fatal(exp["verdicts"])
	}
	ev := evidence(t, coco, "evidence/hopper_coco_report1.txt", "evidence/hopper_coco_certs1.txt")
	nonce := unhex(t, exp["inputs"].(map[string]any)["nonce"].(string))
	res, err := Verify(context.Background(), ev, Options{Now: mustTime(t, "2025-10-24T12:00:00Z"), Nonce: nonce})
	if !errors.Is(err, ErrRevocationMissing) {
		t.Errorf("without collateral: %v", err)
	}
	for _, c := range []string{"report_parsed", "nonce_match", "report_signature", "cert_chain", "fwid_match"} {
		if ok, _ := res.Checks.Get(c); !ok {
			t.Errorf("check %s failed: %+v", c, res.Checks)
		}
	}
	if ev.Report.Trailing != 1 {
		t.Errorf("trailing %d", ev.Report.Trailing)
	}
	// The complete set's collateral is another GPU's: no OCSP answer for
	// this GPU's BROM certificate.
	_, err = Verify(context.Background(), ev, Options{Now: mustTime(t, "2025-08-21T12:00:00Z"), Nonce: nonce, Collateral: completeCollateral(t), OCSPMode: OCSPAsOfThisUpdate})
	if !errors.Is(err, ErrRevocationMissing) {
		t.Errorf("with the other GPU's collateral: %v", err)
	}
	// The same bytes with a non-zero trailing byte are refused.
	raw := bytes.Clone(ev.Report.Raw)
	raw[len(raw)-1] = 7
	rep, err := ParseReport(raw)
	if err != nil {
		t.Fatal(err)
	}
	ev.Report = rep
	if _, err := Verify(context.Background(), ev, Options{Now: mustTime(t, "2025-10-24T12:00:00Z"), Nonce: nonce}); !errors.Is(err, ErrTrailingBytes) {
		t.Errorf("non-zero trailing byte: %v", err)
	}
}

// TestTrusteeChainCases: case 1 passes, 2–4 fail, as Trustee's tests say.
func TestTrusteeChainCases(t *testing.T) {
	exp := expected(t, trustee)["results"].(map[string]any)
	nonce := completeNonce(t)
	for _, tc := range []struct {
		name string
		want error
	}{
		{"case1", nil},
		{"case2", ErrChainLength},
		{"case3", ErrChainInvalid},
		{"case4", ErrReportSignature}, // the BROM certificate is first: not the report's key, no FWID
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := exp[tc.name].(map[string]any)
			chain, err := ParseChain(vec(t, trustee, "hopper_cert_chain_"+tc.name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			if len(chain) != int(e["n_certs"].(float64)) {
				t.Errorf("%d certificates, want %v", len(chain), e["n_certs"])
			}
			fw := hex.EncodeToString(CertFWID(chain[0]))
			if want, _ := e["leaf_fwid"].(string); fw != want {
				t.Errorf("leaf FWID %q, want %q", fw, want)
			}
			rep, err := ParseReport(reportBytes(vec(t, trustee, "hopperAttestationReport.txt")))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Verify(context.Background(), &Evidence{Arch: Hopper, Report: rep, Chain: chain}, Options{Now: mustTime(t, "2025-08-21T12:00:00Z"), Nonce: nonce})
			if tc.want == nil {
				if ok, _ := res.Checks.Get("fwid_match"); !ok || !errors.Is(err, ErrRevocationMissing) {
					t.Errorf("case1: %v %+v", err, res.Checks)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("%v, want %v", err, tc.want)
			}
		})
	}
	leaf, err := ParseChain(vec(t, trustee, "hopper_signing_cert.pem"))
	if err != nil || CertFWID(leaf[0]) == nil {
		t.Errorf("signing cert alone: %v", err)
	}
}

// TestPinnedRootsMatchVectors: the embedded roots are the vectors' bytes.
func TestPinnedRootsMatchVectors(t *testing.T) {
	if !bytes.Equal(deviceRootPEM, vec(t, complete, "roots/verifier_device_root.pem")) || !bytes.Equal(deviceRootPEM, vec(t, coco, "roots/nvidia_device_root.pem")) {
		t.Error("device root differs from the vectors'")
	}
	if !bytes.Equal(rimRootPEM, vec(t, complete, "roots/verifier_RIM_root.pem")) {
		t.Error("RIM root differs from the vectors'")
	}
	// A chain ending at another self-signed root with the same name fails.
	ev := completeEvidence(t)
	if err := verifyChain(ev.Chain, RIMRoots(), mustTime(t, "2025-08-21T12:00:00Z"), ErrChainInvalid, ErrChainRoot); !errors.Is(err, ErrChainRoot) {
		t.Errorf("device chain against the RIM root: %v", err)
	}
}

// TestCompleteH100Claims: the claims agree with NVIDIA's own (NRAS) claims
// for the same report and nonce wherever NVIDIA's names are used.
func TestCompleteH100Claims(t *testing.T) {
	res, err := Verify(context.Background(), completeEvidence(t), Options{
		Now: mustTime(t, "2025-10-24T12:00:00Z"), Nonce: completeNonce(t), Collateral: completeCollateral(t),
		OCSPMode: OCSPAsOfThisUpdate, MaxRevocationAge: 90 * 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Claims()
	nras := expected(t, complete)["verdicts"].(map[string]any)["nvidia_nras_2025-06-11"].(map[string]any)["claims"].(map[string]any)
	for k, want := range nras {
		switch k {
		case "iss", "exp", "iat", "nbf", "jti", "x-nvidia-attestation-warning":
			continue // token envelope, not GPU claims
		}
		got, ok := c[k]
		if !ok {
			t.Errorf("claim %s missing (NRAS: %v)", k, want)
			continue
		}
		if !jsonEqual(got, want) {
			t.Errorf("claim %s = %v, NRAS %v", k, got, want)
		}
	}
	if c["x-avow-gpu-revocation-as-of"] != "2025-08-21T06:47:07Z" || c["x-avow-gpu-driver-rim-sha256"] != res.DriverRIM.SHA256 {
		t.Errorf("avow claims %v", c)
	}
}
