package main

import (
	"reflect"
	"testing"
)

func TestTypeSettingFlags(t *testing.T) {
	got, err := typeSettings([]string{"SevSnpVm.minimumTcb=bl=3,tee=0,snp=8,ucode=115", "TdxVm=", "SevSnpVm.other = x "})
	want := map[string]map[string]string{
		"SevSnpVm": {"minimumTcb": "bl=3,tee=0,snp=8,ucode=115", "other": "x"},
		"TdxVm":    {},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v", got, err)
	}
	if got, err := typeSettings(nil); got != nil || err != nil {
		t.Errorf("no flags: %v %v", got, err)
	}
	for _, bad := range []string{"SevSnpVm", "=x", ".k=v", "SevSnpVm.=v", "SevSnpVm=x"} {
		if _, err := typeSettings([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
