package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/node/nodetest"
)

// TestDemoInChromium runs e2e/demo.mjs (playwright-core driving Debian's headless Chromium) against the demo page
// of a real node: register, log in, MPIN, enroll the payee field, `allow` with the same rhythm, a challenge with
// very different timing. Screenshots are kept in artifacts/.
func TestDemoInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not installed (scripts/deps.sh installs it): %v", err)
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not installed: %v", err)
	}
	if _, err := os.Stat("node_modules/playwright-core"); err != nil {
		t.Fatalf("playwright-core not installed: run `npm ci` in web/ (make test does): %v", err)
	}
	port := nodetest.FreePort(t)
	n := nodetest.Start(t, func(c *config.Config) {
		c.HTTP.Listen = "127.0.0.1:" + strconv.Itoa(port)
		c.HTTP.AllowedOrigins = []string{"http://127.0.0.1:" + strconv.Itoa(port)}
		c.Policy.EnrollmentSamples = 6
	})
	shots, err := filepath.Abs(filepath.Join("..", "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "e2e/demo.mjs", n.URL, shots)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium, "ENROLL=6")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("browser run failed: %v", err)
	}
}
