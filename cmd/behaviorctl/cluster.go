package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// runStatus: behaviorctl status -nodes URL[,URL...] — each node's readiness, cluster members and live figures.
func runStatus(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	nodes := fs.String("nodes", "http://127.0.0.1:8080", "comma-separated node base URLs")
	key := fs.String("key", "", "operator key (default $BEHAVIOR_AUTH_OPERATOR_KEY)")
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	opKey := operatorKey(*key)
	fmt.Fprintf(e.stdout, "%-28s %-10s %7s %6s %10s %10s %10s %8s\n", "node", "status", "members", "live", "events/s", "samples/s", "p99 us", "postgres")
	var failed error
	for _, base := range strings.Split(*nodes, ",") {
		base = strings.TrimRight(strings.TrimSpace(base), "/")
		var ready struct {
			Status  string `json:"status"`
			Members int    `json:"members"`
		}
		if _, err := getJSON(ctx, base+"/readyz", "", &ready); err != nil {
			fmt.Fprintf(e.stdout, "%-28s %-10s\n", base, "down")
			failed = errors.Join(failed, err)
			continue
		}
		var st struct {
			Nodes []struct {
				LiveSessions     int              `json:"live_sessions"`
				EventsPerSecond  float64          `json:"events_per_second"`
				SamplesPerSecond float64          `json:"samples_per_second"`
				LatencyUs        map[string]int64 `json:"latency_us"`
				PostgresUp       bool             `json:"postgres_up"`
			} `json:"nodes"`
		}
		line := fmt.Sprintf("%-28s %-10s %7d", base, ready.Status, ready.Members)
		if code, err := getJSON(ctx, base+"/v1/stats", opKey, &st); err == nil && len(st.Nodes) == 1 {
			n := st.Nodes[0]
			line += fmt.Sprintf(" %6d %10.0f %10.0f %10d %8t", n.LiveSessions, n.EventsPerSecond, n.SamplesPerSecond, n.LatencyUs["p99"], n.PostgresUp)
		} else if code == http.StatusUnauthorized {
			line += "  (stats need the operator key)"
		}
		fmt.Fprintln(e.stdout, line)
	}
	return failed
}

// runDrain: behaviorctl drain -node URL — the node drains and stops (clients reconnect elsewhere).
func runDrain(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("drain", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	node := fs.String("node", "", "base URL of the node to drain")
	key := fs.String("key", "", "operator key (default $BEHAVIOR_AUTH_OPERATOR_KEY)")
	wait := fs.Duration("wait", 60*time.Second, "how long to wait for the node to stop answering")
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	if *node == "" {
		fmt.Fprintln(e.stderr, "drain: -node is required")
		return errUsage
	}
	base := strings.TrimRight(*node, "/")
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, base+"/v1/ops/drain", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+operatorKey(*key))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("drain %s: %w", base, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("drain %s: %d %s", base, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(e.stdout, "%s: draining\n", base)
	deadline := time.Now().Add(*wait)
	for time.Now().Before(deadline) {
		if _, err := getJSON(ctx, base+"/healthz", "", nil); err != nil {
			fmt.Fprintf(e.stdout, "%s: stopped\n", base)
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("drain %s: still answering after %s", base, *wait)
}

func operatorKey(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv("BEHAVIOR_AUTH_OPERATOR_KEY")
}

// getJSON GETs url (with a bearer when given) and decodes a 2xx answer into out.
func getJSON(ctx context.Context, url, bearer string, out any) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s: %d", url, resp.StatusCode)
	}
	if out == nil {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out)
}
