package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
)

// TestTCBBaselines: GET {attestUri}/tcbbaselines/{type} answers MAA's
// shape (tcbBaselines[] of tcbIdentifier, tcbEvaluationDataNumber,
// tcbReleaseDate, isSelectedTcb) for api-versions 2022-09-01-preview and
// 2025-06-01, to a bearer token with the reader role; isSelectedTcb follows
// the policy's x-ms-sgx-tcbidentifier; provideCurrentTcbInPolicy=true
// lists the selected one only; a type without baselines lists none.
func TestTCBBaselines(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	admin := &service.Principal{ID: "test", Role: store.RoleOwner}
	rec, err := sgxsim.Default().Collateral(sgxsim.CollateralOptions{Now: testNow.Add(-time.Hour), TCBEvaluationDataNumber: sgxsim.RecoveredTCBEvaluationDataNumber})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.ImportCollateral(ctx, admin, rec, "sgxsim"); err != nil {
		t.Fatal(err)
	}
	type baseline struct {
		TCBIdentifier           string `json:"tcbIdentifier"`
		TCBEvaluationDataNumber int    `json:"tcbEvaluationDataNumber"`
		TCBReleaseDate          string `json:"tcbReleaseDate"`
		IsSelectedTCB           bool   `json:"isSelectedTcb"`
	}
	get := func(path, token string) (int, []baseline, string) {
		t.Helper()
		r := e.do(t, "GET", "/providers/contoso/tcbbaselines/"+path, token, nil)
		var body struct {
			TCBBaselines []baseline `json:"tcbBaselines"`
		}
		if r.status == 200 {
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatalf("%s: %v", r.body, err)
			}
		}
		return r.status, body.TCBBaselines, string(r.body)
	}
	for _, v := range []string{"2022-09-01-preview", "2025-06-01"} {
		status, list, raw := get("SgxEnclave?api-version="+v, e.reader)
		want := []baseline{
			{"azuredefault", 18, "2025-05-14T00:00:00", true},
			{"18", 18, "2025-05-14T00:00:00", false},
			{"17", 17, "2024-11-13T00:00:00", false},
		}
		if status != 200 || len(list) != len(want) {
			t.Fatalf("%s: %d %s", v, status, raw)
		}
		for i := range want {
			if list[i] != want[i] {
				t.Errorf("%s: [%d] = %+v, want %+v", v, i, list[i], want[i])
			}
		}
		if !strings.Contains(raw, `"isSelectedTcb":false`) {
			t.Errorf("%s: isSelectedTcb false is not written: %s", v, raw)
		}
	}
	if _, _, err := e.svc.SetPolicy(ctx, admin, "contoso", sgx.NameSgxEnclave, policy.UnsignedDocument(`version= 1.1;
configurationrules{ => issueproperty(type="x-ms-sgx-tcbidentifier", value="17"); };
authorizationrules{ => permit(); };`)); err != nil {
		t.Fatal(err)
	}
	status, list, raw := get("sgxenclave?api-version=2025-06-01&provideCurrentTcbInPolicy=true", e.reader)
	if status != 200 || len(list) != 1 || list[0].TCBIdentifier != "17" || !list[0].IsSelectedTCB {
		t.Errorf("selected only: %d %s", status, raw)
	}
	if status, list, raw := get("OpenEnclave?api-version=2025-06-01", e.reader); status != 200 || len(list) != 3 || !list[0].IsSelectedTCB {
		t.Errorf("OpenEnclave keeps the default: %d %s", status, raw)
	}
	if status, list, raw := get("TdxVm?api-version=2025-06-01", e.reader); status != 200 || len(list) != 1 || list[0].TCBEvaluationDataNumber != 0 {
		t.Errorf("TdxVm without TDX collateral: %d %s", status, raw)
	}
	for _, c := range []struct {
		path, token string
		status      int
		code        string
	}{
		{"SgxEnclave?api-version=2025-06-01", "", 401, "unauthorized"},
		{"SgxEnclave?api-version=2022-08-01", e.reader, 400, "invalid_api_version"},
		{"SgxEnclave", e.reader, 400, "invalid_api_version"},
		{"SgxEnclave?api-version=2025-06-01&provideCurrentTcbInPolicy=maybe", e.reader, 400, "invalid_query"},
		{"Nope?api-version=2025-06-01", e.reader, 404, "unknown_attestation_type"},
	} {
		r := e.do(t, "GET", "/providers/contoso/tcbbaselines/"+c.path, c.token, nil)
		if r.status != c.status || !strings.Contains(string(r.body), `"code":"`+c.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", c.path, r.status, r.body, c.status, c.code)
		}
	}
	if r := e.do(t, "POST", "/providers/contoso/tcbbaselines/SgxEnclave?api-version=2025-06-01", e.owner, nil); r.status != 405 {
		t.Errorf("POST: %d %s", r.status, r.body)
	}
}
