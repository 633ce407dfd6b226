package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/avowhq/avow/console"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/server"
)

// chromium finds the browser the end-to-end tests drive: $AVOW_CHROMIUM,
// else Debian's chromium (.ci/run installs it), else a Chrome on PATH.
func chromium() string {
	if p := os.Getenv("AVOW_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// screenshotDir is where the tests write a screenshot of each page:
// $AVOW_SCREENSHOTS, else console/screenshots (not committed; the README
// links it, and two of them are docs/console-*.png).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("AVOW_SCREENSHOTS")
	if dir == "" {
		dir = "screenshots"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string

	mu       sync.Mutex
	problems []string // exceptions, console errors, CSP violations
}

// run runs actions with a time limit.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) eval(expr string) any {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript predicate until it holds; a navigation during
// the wait (the OpenID round trip) restarts the poll in the new document.
func (b *browser) wait(what, predicate string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(b.ctx, deadline)
		_, err = chromedp.Run(ctx, chromedp.Poll[any](predicate, chromedp.WithPollingTimeout(time.Until(deadline))))
		cancel()
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 2000)`))
	b.t.Fatalf("waiting for %s (%s): %v\npage text:\n%s", what, predicate, err, text)
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	v := b.eval(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel))
	s, _ := v.(string)
	return s
}

// visit opens a route of the console and waits until it rendered.
func (b *browser) visit(hash string) {
	b.t.Helper()
	b.eval(fmt.Sprintf(`location.hash = %q`, hash))
	b.wait("page "+hash, fmt.Sprintf(`document.getElementById('main').dataset.ready === %q`, hash))
}

// activate focuses a control and presses Enter, as a keyboard user does
// (and without aiming the mouse at coordinates a screenshot may have
// moved).
func (b *browser) activate(what, sel string) {
	b.t.Helper()
	b.do(what, chromedp.Focus(chromedp.CSS(sel)), chromedp.KeyEvent(kb.Enter))
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// paste replaces the text of a textarea as a paste does: the browser
// inserts the text and fires the input events the page listens to.
func (b *browser) paste(sel, text string) {
	b.t.Helper()
	b.eval(fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.focus(); el.select(); })()`, sel))
	b.do("paste", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: text})
		return err
	}))
}

// interactive roles that must have an accessible name.
var namedRoles = map[string]bool{"button": true, "link": true, "textbox": true, "combobox": true, "checkbox": true,
	"radio": true, "spinbutton": true, "searchbox": true, "slider": true, "switch": true, "tab": true, "menuitem": true, "listbox": true}

// checkAccessibility reads the page's accessibility tree: every control
// has a name, the page has one main landmark and a level-1 heading.
func (b *browser) checkAccessibility(page string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	res, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (accessibility.GetFullAXTreeResult, error) {
		return chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	})
	if err != nil {
		b.t.Fatalf("%s: accessibility tree: %v", page, err)
	}
	str := func(v *accessibility.Value) string {
		if v == nil || len(v.Value) == 0 {
			return ""
		}
		var s string
		if json.Unmarshal(v.Value, &s) != nil {
			return string(v.Value)
		}
		return s
	}
	var controls, mains, h1 int
	for _, n := range res.Nodes {
		if n.Ignored {
			continue
		}
		role := str(n.Role)
		switch role {
		case "main":
			mains++
		case "heading":
			for _, p := range n.Properties {
				if p.Name == "level" && str(p.Value) == "1" {
					h1++
				}
			}
		}
		if !namedRoles[role] {
			continue
		}
		controls++
		if strings.TrimSpace(str(n.Name)) == "" {
			b.t.Errorf("%s: a %s has no accessible name (DOM node %d)", page, role, n.BackendDOMNodeID)
		}
	}
	if controls == 0 || mains != 1 || h1 != 1 {
		b.t.Errorf("%s: %d controls, %d main landmarks, %d level-1 headings", page, controls, mains, h1)
	}
}

// tabReaches presses Tab from the top of the page until each selector has
// had the focus, within limit presses.
func (b *browser) tabReaches(page string, limit int, sels ...string) {
	b.t.Helper()
	b.eval(`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); document.body.focus()`)
	seen := make(map[string]bool)
	for i := 0; i < limit && len(seen) < len(sels); i++ {
		b.do("tab", chromedp.KeyEvent(kb.Tab))
		for _, sel := range sels {
			if v, _ := b.eval(fmt.Sprintf(`document.activeElement && document.activeElement.matches(%q)`, sel)).(bool); v {
				seen[sel] = true
			}
		}
	}
	for _, sel := range sels {
		if !seen[sel] {
			b.t.Errorf("%s: %d presses of Tab never reach %s", page, limit, sel)
		}
	}
}

func (b *browser) page(name, hash string, tabTo ...string) {
	b.t.Helper()
	b.visit(hash)
	b.checkAccessibility(name)
	if len(tabTo) > 0 {
		b.tabReaches(name, 60, tabTo...)
	}
	b.screenshot(name)
}

// newBrowser starts headless Chromium for a test and collects the
// page's exceptions, console errors and security (CSP) messages.
func newBrowser(t *testing.T, bin, base string, flags ...chromedp.ExecAllocatorOption) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), append(opts, flags...)...)
	t.Cleanup(cancelA)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx, base: base, shot: screenshotDir(t)}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// 4xx answers the scenario provokes on purpose are logged by
			// the browser as network errors; anything else is a defect.
			if m.Source == "network" {
				continue
			}
			if m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleError || m.Source == "security" {
				b.mu.Lock()
				b.problems = append(b.problems, m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			t.Errorf("browser console: %s", p)
		}
	})
	return b
}

func needChromium(t *testing.T) string {
	bin := chromium()
	if bin == "" && os.Getenv("AVOW_REQUIRE_CHROMIUM") != "" {
		t.Fatal("no Chromium, and AVOW_REQUIRE_CHROMIUM is set (.ci/run installs Debian's chromium)")
	}
	if bin == "" {
		t.Skip("no Chromium: install Debian's chromium (apt-get install chromium; .ci/run does) or set AVOW_CHROMIUM")
	}
	return bin
}

// TestConsoleInBrowser drives Debian's Chromium through the console of a
// real avow serve --dev: the scenario of issue 16.
func TestConsoleInBrowser(t *testing.T) {
	bin := needChromium(t)
	dir := t.TempDir()
	node, err := server.Start(context.Background(), server.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"),
		Dev: true, SimDir: filepath.Join(dir, "sim"), InsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Shutdown(context.Background()) })
	owner := node.AdminToken.Secret
	reader := createToken(t, node.URL, owner, "reader")

	b := newBrowser(t, bin, node.URL)

	// Sign in.
	b.do("open the console", chromedp.Navigate(node.URL+"/ui/"))
	b.wait("sign-in page", `document.getElementById('main').dataset.ready === '#/signin'`)
	b.checkAccessibility("signin")
	b.tabReaches("signin", 10, `input[type=password]`, `form button[type=submit]`)
	b.screenshot("signin")
	signIn(b, owner)
	if role := b.text("#role"); role != "owner" {
		t.Fatalf("role shown: %q", role)
	}

	// Create a provider.
	b.page("providers-empty", "#/providers", `form[aria-labelledby=create-title] input[type=text]`)
	b.do("create a provider", chromedp.SendKeys(chromedp.CSS(`form[aria-labelledby=create-title] input[type=text]`), "contoso"),
		chromedp.KeyEvent(kb.Enter))
	b.wait("overview", `document.getElementById('main').dataset.ready === '#/providers/contoso'`)
	if uri := b.text("#attest-uri"); uri != node.URL+"/providers/contoso" {
		t.Errorf("attest URI shown: %q", uri)
	}
	b.checkAccessibility("overview")
	b.screenshot("overview")

	// The seed's condensed Always Encrypted policy with a typo: the error
	// at its line and column; fixed; set.
	b.page("policies", "#/providers/contoso/policies/SgxEnclave", `.editor textarea`, `#set-policy`)
	typo := strings.Replace(console.AlwaysEncryptedCondensed, "value==4639", "value=4639", 1)
	b.paste(".editor textarea", typo)
	b.wait("the typo's error", `(document.querySelector('.problems') || {}).textContent?.includes('line 3, column 48')`)
	if p := b.text(".problems"); !strings.Contains(p, `a single "=" in a condition does not compare`) || !strings.Contains(p, "policy_single_equals") {
		t.Errorf("problems shown: %q", p)
	}
	if v, _ := b.eval(`document.querySelector('.editor .err-line')?.textContent.includes('value=4639')`).(bool); !v {
		t.Error("the editor does not mark the line of the error")
	}
	b.screenshot("policies-error")
	b.paste(".editor textarea", console.AlwaysEncryptedCondensed)
	b.wait("a valid policy", `!!document.querySelector('.check-summary .ok')`)
	if p := b.text(".problems"); !strings.Contains(p, "policy_condensed_form") {
		t.Errorf("the condensed form's warning is not shown: %q", p)
	}
	b.activate("set the policy", `#set-policy`)
	hash := policy.PolicyHash(console.AlwaysEncryptedCondensed)
	b.wait("the policy set", fmt.Sprintf(`(document.getElementById('active-hash') || {}).textContent === %q`, hash))
	b.wait("the confirmation", `document.getElementById('status').textContent.includes('Policy Updated')`)
	b.screenshot("policies")

	// Playground: a production enclave is permitted, a debuggable one refused.
	b.page("playground", "#/providers/contoso/playground", `#pg-run`)
	b.activate("run the playground", `#pg-run`)
	b.wait("permitted", `(document.getElementById('pg-verdict') || {}).textContent === 'Permitted'`)
	if trace := b.text(".trace"); !strings.Contains(trace, "x-ms-sgx-is-debuggable = false") || !strings.Contains(trace, "fired") {
		t.Errorf("trace of the permit: %q", trace)
	}
	b.screenshot("playground-permitted")
	b.do("a debuggable enclave", chromedp.Focus(chromedp.CSS(`#sim-debug`)), chromedp.KeyEvent(" "))
	b.activate("run again", `#pg-run`)
	b.wait("refused", `(document.getElementById('pg-verdict') || {}).textContent?.startsWith('Refused')`)
	if v := b.text("#pg-verdict"); !strings.Contains(v, "policy_denied") || !strings.Contains(v, "x-ms-sgx-is-debuggable is true, the rule requires == false") {
		t.Errorf("refusal shown: %q", v)
	}
	b.screenshot("playground-refused")

	// Both in the audit log.
	if err := node.Service.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.page("audit", "#/audit", `form[aria-label="Audit filters"] button[type=submit]`)
	rows := b.text("#audit-table tbody")
	if !strings.Contains(rows, "attest.SgxEnclave draftpolicy_denied") || !strings.Contains(rows, "attest.SgxEnclave draftsuccess") ||
		!strings.Contains(rows, "policy.set") {
		t.Errorf("audit rows: %q", rows)
	}
	b.eval(`[...document.querySelectorAll('#audit-table tbody tr')].find(r => r.textContent.includes('policy_denied')).querySelector('button').click()`)
	b.wait("the record's details", `!!document.querySelector('#audit-detail dl')`)
	if d := b.text("#audit-detail"); !strings.Contains(d, "x-ms-sgx-is-debuggable is true") || !strings.Contains(d, "request_id=") {
		t.Errorf("details: %q", d)
	}
	b.screenshot("audit-details")
	b.eval(`[...document.querySelectorAll('#audit-detail button')].find(x => x.textContent.includes('playground')).click()`)
	b.wait("the playground case", `document.getElementById('main').dataset.ready?.startsWith('#/providers/contoso/playground?')`)

	b.page("activity", "#/activity")
	if r := b.text("main"); !strings.Contains(r, "policy_denied") || !strings.Contains(r, "2 attestations, 1 refused") {
		t.Errorf("activity: %q", r)
	}
	b.page("collateral", "#/collateral")
	if r := b.text("main table"); !strings.Contains(r, "sgxsim (--dev)") {
		t.Errorf("collateral: %q", r)
	}
	b.page("keys", "#/providers/contoso/keys")
	b.page("signers", "#/providers/contoso/signers")
	b.page("providers", "#/providers")
	if r := b.text("main table"); !strings.Contains(r, "contoso") || !strings.Contains(r, "policy_denied") {
		t.Errorf("providers list: %q", r)
	}

	// A draft from the editor, tried in the playground before it is set.
	b.visit("#/providers/contoso/policies/SgxEnclave")
	b.paste(".editor textarea", strings.Replace(console.AlwaysEncryptedCondensed, "value>= 2", "value>= 3", 1))
	b.wait("the draft's diff", `(document.querySelector('.diff .add') || {}).textContent?.includes('value>= 3')`)
	b.eval(`[...document.querySelectorAll('main button')].find(x => x.textContent === 'Try in playground').click()`)
	b.wait("the playground with the draft", `document.getElementById('main').dataset.ready === '#/providers/contoso/playground?type=SgxEnclave&policy=draft'`)
	b.activate("run the draft", `#pg-run`)
	b.wait("refused by the draft", `(document.getElementById('pg-verdict') || {}).textContent?.includes('x-ms-sgx-svn is 2, the rule requires >= 3')`)
	b.visit("#/providers/contoso/policies/SgxEnclave")
	if h := b.text("#active-hash"); h != hash {
		t.Errorf("trying a draft changed the active policy: %q", h)
	}

	// A reader sees everything and can change nothing.
	b.activate("sign out", `#who button`)
	b.wait("sign-in page", `document.getElementById('main').dataset.ready === '#/signin'`)
	signIn(b, reader)
	if role := b.text("#role"); role != "reader" {
		t.Fatalf("role shown: %q", role)
	}
	b.visit("#/providers")
	if v, _ := b.eval(`!document.querySelector('form[aria-labelledby=create-title]') && !document.querySelector('button.danger')`).(bool); !v {
		t.Error("a reader is offered to create or delete providers")
	}
	b.visit("#/providers/contoso/policies/SgxEnclave")
	for _, sel := range []string{"#set-policy", "button.danger"} {
		if v, _ := b.eval(fmt.Sprintf(`document.querySelector(%q).disabled`, sel)).(bool); !v {
			t.Errorf("policies: %s is enabled for a reader", sel)
		}
	}
	b.screenshot("reader-policies")
	b.visit("#/providers/contoso/keys")
	if v, _ := b.eval(`[...document.querySelectorAll('main button')].every(x => x.disabled)`).(bool); !v {
		t.Error("keys: a reader can rotate")
	}
	b.visit("#/providers/contoso/playground")
	if v, _ := b.eval(`document.querySelector('option[value=sim]').disabled`).(bool); !v {
		t.Error("playground: a reader can make simulated quotes")
	}
	// The API enforces it whatever the page shows.
	status := b.eval(`fetch('/providers/contoso/policies/SgxEnclave:reset?api-version=2022-08-01', {method: 'POST',
		headers: {Authorization: 'Bearer ' + sessionStorage.getItem('avow.token'), 'Content-Type': 'application/json'},
		body: JSON.stringify('eyJhbGciOiJub25lIn0..')}).then(r => r.status)`)
	if status != float64(403) {
		t.Errorf("a reader's reset through the API answered %v", status)
	}
	if v := b.eval(`document.cookie + location.href`).(string); strings.Contains(v, reader) || strings.Contains(v, owner) {
		t.Error("the token is in a cookie or the URL")
	}
}

func signIn(b *browser, token string) {
	b.t.Helper()
	b.do("sign in", chromedp.SendKeys(chromedp.CSS(`input[type=password]`), token), chromedp.KeyEvent(kb.Enter))
	b.wait("providers after sign-in", `document.getElementById('main').dataset.ready === '#/providers'`)
}

func createToken(t *testing.T, base, owner, role string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/management/admin-tokens", strings.NewReader(`{"role":"`+role+`","description":"browser test"}`))
	req.Header.Set("Authorization", "Bearer "+owner)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if resp.StatusCode != 201 || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("create a %s token: %d", role, resp.StatusCode)
	}
	return out.Token
}
