package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/node/nodetest"
)

func TestNodeServesHealthReadinessAndMetrics(t *testing.T) {
	n := nodetest.Start(t, nil)

	cases := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/healthz", http.StatusOK, `"ok"`},
		{"/readyz", http.StatusOK, `"ready"`},
		{"/metrics", http.StatusOK, "go_goroutines"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(n.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
				t.Fatalf("GET %s = %d %s", tc.path, resp.StatusCode, body)
			}
		})
	}
}

func TestReadyzReportsEachCheck(t *testing.T) {
	n := nodetest.Start(t, nil)
	resp, err := http.Get(n.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Checks["postgres"] != "ok" || body.Checks["cluster"] != "ok" {
		t.Fatalf("checks: %+v", body.Checks)
	}
}

func TestStopDrainsAndClosesListener(t *testing.T) {
	n := nodetest.Start(t, nil)
	n.Stop(t)
	if _, err := http.Get(n.URL + "/healthz"); err == nil {
		t.Fatal("node still serving after Stop")
	}
	if !strings.Contains(n.Logs(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop in the logs:\n%s", n.Logs())
	}
}

// An operator drains a node remotely (what `behaviorctl drain` does): the node answers 202, drains and stops.
func TestOperatorDrainStopsTheNode(t *testing.T) {
	n := nodetest.Start(t, nil)
	post := func(key string) int {
		req, _ := http.NewRequest(http.MethodPost, n.URL+"/v1/ops/drain", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("not-the-operator-key-0123456789"); code != http.StatusUnauthorized {
		t.Fatalf("drain with a wrong key: %d", code)
	}
	if code := post(nodetest.OperatorKey); code != http.StatusAccepted {
		t.Fatalf("drain: %d", code)
	}
	nodetest.WaitFor(t, 30*time.Second, func() bool {
		_, err := http.Get(n.URL + "/healthz")
		return err != nil
	}, "the node to stop after the drain")
	if !strings.Contains(n.Logs(), "drain requested by an operator") {
		t.Fatalf("no drain in the logs")
	}
}

// A REST request makes one trace: the HTTP span, the actor request it sends and the Postgres queries it runs.
func TestTraceRunsFromHTTPThroughActorsToPostgres(t *testing.T) {
	n := nodetest.Start(t, func(c *config.Config) { c.Telemetry.Traces = "stdout" })
	post := func(path, bearer, body string, out any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, n.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		if out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatal(err)
			}
		}
	}
	post("/v1/auth/register", "", `{"phone":"+919812300001","password":"a long password 9","mpin":"480917"}`, nil)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	post("/v1/auth/login", "", `{"phone":"+919812300001","password":"a long password 9"}`, &tok)
	post("/v1/auth/mpin/verify", tok.AccessToken, `{"mpin":"480917"}`, nil)
	n.Stop(t) // flushes the span batcher
	logs := n.Logs()
	for _, want := range []string{`"Name":"POST /v1/auth/mpin/verify"`, `"Name":"postgres query"`, `"Name":"actor session *enginepb.Start"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("no span %s in the exported traces", want)
		}
	}
}
