package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// -update rewrites the golden files under testdata.
var updateFlag = flag.Bool("update", false, "rewrite the golden files under testdata")

func updateGolden() bool { return *updateFlag }

// runAvow runs avow in-process with args and returns the exit code,
// standard output and standard error.
func runAvow(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	code := run(args, stdout, stderr)
	stdout.Close()
	stderr.Close()
	out, err := os.ReadFile(stdout.Name())
	if err != nil {
		t.Fatal(err)
	}
	errOut, err := os.ReadFile(stderr.Name())
	if err != nil {
		t.Fatal(err)
	}
	return code, string(out), string(errOut)
}
