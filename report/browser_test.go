package report

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/mqbench/mqbench/scenarios/catalog"
)

// TestReportRendersInChromium opens a report from disk in real headless
// Chromium, fails on any network request, and checks that every chart and
// table renders with a size.
func TestReportRendersInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("MQBENCH_REQUIRE_BROKERS") == "1" {
			t.Fatal("chromium not installed (apt-get install chromium); required when MQBENCH_REQUIRE_BROKERS=1")
		}
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	dir := t.TempDir()
	results := append(fixtures(), capacityFixtures()...)
	path, err := WriteHTML(dir, results, Options{Compare: fixtures(), Label: "A", CompareLabel: "B", Scenarios: catalog.Presentations()})
	if err != nil {
		t.Fatal(err)
	}
	// A control page proves the request check can fail.
	control := filepath.Join(dir, "control.html")
	if err := os.WriteFile(control, []byte(`<html><body><img src="http://127.0.0.1:9/x.png"></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, ext := browse(t, bin, dir, control); len(ext) == 0 {
		t.Fatal("the control page's external image was not detected: the check is broken")
	}
	title, charts, sized, tables, external := browse(t, bin, dir, path)
	if len(external) > 0 {
		t.Errorf("report made network requests: %v", external)
	}
	if title != "mqbench report" {
		t.Errorf("title %q", title)
	}
	// Six scenarios × (2 latency + received + backlog) + async 2 bars +
	// peakshaving 2 per broker + decoupling's series chart + capacity's
	// curve, bars and one steps chart per broker.
	if charts < 35 {
		t.Errorf("%d charts rendered, want at least 35", charts)
	}
	if sized != charts {
		t.Errorf("%d of %d charts have a visible size and drawn content", sized, charts)
	}
	if tables < 15 {
		t.Errorf("%d tables, want at least 15", tables)
	}
}

// browse opens path in headless Chromium and returns the title, the number
// of charts, of charts with a visible size and content, of tables, and the
// URLs of any request other than file: or data:.
func browse(t *testing.T, bin, dir, path string) (title string, charts, sized, tables int, external []string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(filepath.Join(dir, "profile-"+filepath.Base(path))),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 2000),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	var mu sync.Mutex
	var seen []string
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			u := e.Request.URL
			if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
				mu.Lock()
				seen = append(seen, u)
				mu.Unlock()
			}
		}
	}))
	defer bcancel()

	err := chromedp.Do(bctx, chromedp.Navigate("file://"+path), chromedp.WaitReady("body"))
	if err == nil {
		title, err = chromedp.Run(bctx, chromedp.Title())
	}
	if err == nil { // the detail is folded: open it, as a reader would
		_, err = chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('details').forEach(d => d.open = true), document.querySelectorAll('details').length`))
	}
	if err == nil {
		charts, err = chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('svg.chart').length`))
	}
	if err == nil {
		sized, err = chromedp.Run(bctx, chromedp.Evaluate[int](`Array.from(document.querySelectorAll('svg.chart')).filter(s => { const r = s.getBoundingClientRect(); return r.width > 100 && r.height > 50 && s.querySelectorAll('path,line,polyline,text').length > 5 }).length`))
	}
	if err == nil {
		tables, err = chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('table').length`))
	}
	if err != nil {
		t.Fatalf("chromium on %s: %v", path, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return title, charts, sized, tables, append([]string(nil), seen...)
}
