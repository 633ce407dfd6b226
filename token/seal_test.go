package token

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avowhq/avow/errs"
)

func testKEK(b byte) []byte { return bytes.Repeat([]byte{b}, KEKSize) }

func TestSealRoundTrip(t *testing.T) {
	k, _ := testKeys(t)
	kek := testKEK(1)
	aad := KeyAAD("p1", k.KID)
	sealed, err := SealPrivateKey(kek, k.Private, aad)
	if err != nil {
		t.Fatal(err)
	}
	if string(sealed[:5]) != "AVSK\x01" {
		t.Errorf("prefix %q", sealed[:5])
	}
	again, _ := SealPrivateKey(kek, k.Private, aad)
	if bytes.Equal(sealed[5:17], again[5:17]) {
		t.Error("nonce repeated")
	}
	got, err := OpenPrivateKey(kek, sealed, aad)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(k.Private) || got.Precomputed.Dp == nil {
		t.Error("opened key differs or is not precomputed")
	}
	// The opened key rebuilds the same signing key.
	sk, err := NewSigningKey(k.Certificate.Raw, got, k.CreatedAt, k.RetiredAt)
	if err != nil || sk.KID != k.KID {
		t.Errorf("NewSigningKey after open: %v", err)
	}
}

func TestSealRejects(t *testing.T) {
	k, _ := testKeys(t)
	kek := testKEK(1)
	aad := KeyAAD("p1", k.KID)
	sealed, err := SealPrivateKey(kek, k.Private, aad)
	if err != nil {
		t.Fatal(err)
	}
	open := func(kek, sealed, aad []byte) error { _, err := OpenPrivateKey(kek, sealed, aad); return err }

	if err := open(testKEK(2), sealed, aad); !errors.Is(err, ErrKeyUnsealing) {
		t.Errorf("wrong KEK: %v", err)
	}
	if err := open(kek, sealed, KeyAAD("p2", k.KID)); !errors.Is(err, ErrKeyUnsealing) {
		t.Errorf("other provider: %v", err)
	}
	if err := open(kek, sealed, KeyAAD("p1", "other-kid")); !errors.Is(err, ErrKeyUnsealing) {
		t.Errorf("other kid: %v", err)
	}
	// Length-prefixing keeps ("p1x","y") and ("p1","xy") apart.
	if bytes.Equal(KeyAAD("p1x", "y"), KeyAAD("p1", "xy")) {
		t.Error("KeyAAD is ambiguous")
	}
	// Every byte matters: magic, version, nonce, ciphertext, tag.
	for _, i := range []int{0, 4, 5, 16, 17, len(sealed) / 2, len(sealed) - 17, len(sealed) - 1} {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if err := open(kek, bad, aad); !errors.Is(err, ErrKeyUnsealing) {
			t.Errorf("byte %d flipped: %v", i, err)
		}
	}
	v2 := bytes.Clone(sealed)
	v2[4] = 2
	if err := open(kek, v2, aad); !errors.Is(err, ErrKeyUnsealing) || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("version 2: %v", err)
	}
	for _, n := range []int{0, 5, 32, len(sealed) - 1} {
		if err := open(kek, sealed[:n], aad); !errors.Is(err, ErrKeyUnsealing) {
			t.Errorf("truncated to %d: %v", n, err)
		}
	}
	for _, bad := range [][]byte{nil, make([]byte, 16), make([]byte, 31), make([]byte, 33)} {
		if _, err := SealPrivateKey(bad, k.Private, aad); !errors.Is(err, ErrKEKInvalid) {
			t.Errorf("seal with %d-byte KEK: %v", len(bad), err)
		}
		if err := open(bad, sealed, aad); !errors.Is(err, ErrKEKInvalid) {
			t.Errorf("open with %d-byte KEK: %v", len(bad), err)
		}
	}
	if _, err := SealPrivateKey(kek, nil, aad); !errors.Is(err, ErrKeySealing) {
		t.Errorf("nil key: %v", err)
	}
}

func TestKEKFromEnv(t *testing.T) {
	kek := make([]byte, 32)
	for i := range kek {
		kek[i] = byte(i*7 + 250)
	}
	for name, v := range map[string]string{
		"hex":        hex.EncodeToString(kek),
		"HEX":        strings.ToUpper(hex.EncodeToString(kek)),
		"std":        base64.StdEncoding.EncodeToString(kek),
		"raw std":    base64.RawStdEncoding.EncodeToString(kek),
		"url":        base64.URLEncoding.EncodeToString(kek),
		"raw url":    base64.RawURLEncoding.EncodeToString(kek),
		"whitespace": "  " + hex.EncodeToString(kek) + "\n",
	} {
		got, err := KEKFromEnv(v)
		if err != nil || !bytes.Equal(got, kek) {
			t.Errorf("%s: %x, %v", name, got, err)
		}
	}
	secret := "s3cr3t-value-that-must-not-leak"
	for _, v := range []string{"", "   ", hex.EncodeToString(kek[:31]), hex.EncodeToString(kek) + "00",
		base64.StdEncoding.EncodeToString(kek[:16]), secret, strings.Repeat("g", 64)} {
		_, err := KEKFromEnv(v)
		if !errors.Is(err, ErrKEKInvalid) {
			t.Errorf("%q: %v", v, err)
			continue
		}
		if strings.TrimSpace(v) != "" && strings.Contains(errs.Detail(err), strings.TrimSpace(v)) {
			t.Errorf("error quotes the value: %v", err)
		}
	}
}

func TestLoadOrCreateKEK(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "kek")
	kek, created, err := LoadOrCreateKEK(path)
	if err != nil || !created || len(kek) != 32 {
		t.Fatalf("create: %x %v %v", kek, created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if string(data) != hex.EncodeToString(kek)+"\n" {
		t.Errorf("file content is not the hex key and a newline")
	}
	again, created, err := LoadOrCreateKEK(path)
	if err != nil || created || !bytes.Equal(again, kek) {
		t.Errorf("load: %v %v", created, err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "sub", ".kek-*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}

	// Raw 32 bytes.
	raw := filepath.Join(dir, "raw")
	rawKEK := []byte("0123456789abcdef0123456789abcde\n") // 32 bytes, newline included
	if err := os.WriteFile(raw, rawKEK, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, created, err := LoadOrCreateKEK(raw); err != nil || created || !bytes.Equal(got, rawKEK) {
		t.Errorf("raw: %q %v %v", got, created, err)
	}

	// Invalid contents; the error never quotes them.
	for name, content := range map[string]string{"short": "abc", "long hex": strings.Repeat("ab", 33), "not hex": strings.Repeat("zz", 32), "empty": ""} {
		p := filepath.Join(dir, "bad-"+strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadOrCreateKEK(p)
		if !errors.Is(err, ErrKEKInvalid) {
			t.Errorf("%s: %v", name, err)
		} else if content != "" && strings.Contains(err.Error(), content) {
			t.Errorf("%s: error quotes the content: %v", name, err)
		}
	}

	if _, _, err := LoadOrCreateKEK(dir); !errors.Is(err, ErrKEKFileInsecure) {
		t.Errorf("directory: %v", err)
	}
	if _, _, err := LoadOrCreateKEK(""); !errors.Is(err, ErrKEKUnavailable) {
		t.Errorf("empty path: %v", err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o620, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadOrCreateKEK(path)
		if !errors.Is(err, ErrKEKFileInsecure) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %o: %v", mode, err)
		}
		if strings.Contains(err.Error(), hex.EncodeToString(kek)) {
			t.Errorf("error quotes the key")
		}
	}
	if os.Getuid() != 0 {
		if err := os.Chmod(path, 0o000); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreateKEK(path); !errors.Is(err, ErrKEKUnavailable) {
			t.Errorf("unreadable: %v", err)
		}
	}
}

// TestLoadOrCreateKEKConcurrent: nodes starting together agree on one key.
func TestLoadOrCreateKEKConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek")
	const n = 8
	keys := make([][]byte, n)
	created := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, c, err := LoadOrCreateKEK(path)
			if err != nil {
				t.Error(err)
			}
			keys[i], created[i] = k, c
		}()
	}
	wg.Wait()
	nCreated := 0
	for i := range n {
		if created[i] {
			nCreated++
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Errorf("caller %d got another key", i)
		}
	}
	if nCreated != 1 {
		t.Errorf("%d callers created the key", nCreated)
	}
}

func TestCheckSealedKey(t *testing.T) {
	key, err := GenerateSigningKeyAlg(rand.Reader, "ES256", "check", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kek, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	aad := KeyAAD("contoso", key.KID)
	sealed, err := SealKey(kek, key.PrivateKey(), aad)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckSealedKey(kek, sealed, aad); err != nil {
		t.Errorf("the right KEK: %v", err)
	}
	if err := CheckSealedKey(other, sealed, aad); !errors.Is(err, ErrKeyUnsealing) {
		t.Errorf("another KEK: %v", err)
	}
	if err := CheckSealedKey(kek, sealed, KeyAAD("fabrikam", key.KID)); !errors.Is(err, ErrKeyUnsealing) {
		t.Errorf("another provider: %v", err)
	}
}

// BenchmarkCheckSealedKey is the per-provider cost of a node's start-up
// KEK check (service.CheckKEK).
func BenchmarkCheckSealedKey(b *testing.B) {
	key, err := GenerateSigningKeyAlg(rand.Reader, "RS256", "bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	kek, aad := bytes.Repeat([]byte{1}, 32), KeyAAD("contoso", key.KID)
	sealed, err := SealKey(kek, key.PrivateKey(), aad)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := CheckSealedKey(kek, sealed, aad); err != nil {
			b.Fatal(err)
		}
	}
}
