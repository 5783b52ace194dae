package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func secrets() map[string]string {
	return map[string]string{
		"DATABASE_URL":               "postgres://u@127.0.0.1:5432/db",
		"BEHAVIOR_AUTH_SIGNING_KEY":  strings.Repeat("k", 32),
		"BEHAVIOR_AUTH_PEPPER":       strings.Repeat("p", 16),
		"BEHAVIOR_AUTH_OPERATOR_KEY": strings.Repeat("o", 24),
	}
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestRepositoryClusterYAMLLoads(t *testing.T) {
	cfg, err := Load("../cluster.yaml", nil, envOf(secrets()))
	if err != nil {
		t.Fatalf("cluster.yaml: %v", err)
	}
	if def := Default(); cfg.HTTP.Listen != def.HTTP.Listen || cfg.Policy.BlockThreshold != def.Policy.BlockThreshold {
		t.Fatalf("cluster.yaml drifted from the documented defaults: %+v", cfg.HTTP)
	}
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("http:\n  listen: 127.0.0.1:9000\npolicy:\n  idle_timeout: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := secrets()
	env["BEHAVIOR_POLICY_IDLE_TIMEOUT"] = "2m"
	env["BEHAVIOR_HTTP_ALLOWED_ORIGINS"] = "https://a.example, https://b.example"
	cfg, err := Load(path, []string{"-http.listen=127.0.0.1:9100"}, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:9100" {
		t.Errorf("flag should win over file: %s", cfg.HTTP.Listen)
	}
	if cfg.Policy.IdleTimeout != 2*time.Minute {
		t.Errorf("env should win over file: %s", cfg.Policy.IdleTimeout)
	}
	if len(cfg.HTTP.AllowedOrigins) != 2 || cfg.HTTP.AllowedOrigins[1] != "https://b.example" {
		t.Errorf("list from env: %q", cfg.HTTP.AllowedOrigins)
	}
	if cfg.Database.URL != env["DATABASE_URL"] {
		t.Errorf("DATABASE_URL not applied: %q", cfg.Database.URL)
	}
}

func TestBadValuesNameTheKey(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		args    []string
		env     map[string]string
		wantKey string
	}{
		{name: "threshold out of range", yaml: "policy:\n  block_threshold: 1.7\n", wantKey: "policy.block_threshold"},
		{name: "block below challenge", yaml: "policy:\n  challenge_threshold: 0.8\n  block_threshold: 0.7\n", wantKey: "policy.block_threshold"},
		{name: "unknown adaptation", args: []string{"-policy.adaptation=sometimes"}, wantKey: "policy.adaptation"},
		{name: "bad listen", env: map[string]string{"BEHAVIOR_HTTP_LISTEN": "nowhere"}, wantKey: "http.listen"},
		{name: "bad duration from env", env: map[string]string{"BEHAVIOR_POLICY_IDLE_TIMEOUT": "soon"}, wantKey: "policy.idle_timeout"},
		{name: "bad number from flag", args: []string{"-index.pool_size=four"}, wantKey: "index.pool_size"},
		{name: "unknown provider", yaml: "cluster:\n  provider: zookeeper\n", wantKey: "cluster.provider"},
		{name: "short signing key", env: map[string]string{"BEHAVIOR_AUTH_SIGNING_KEY": "short"}, wantKey: "auth.signing_key"},
		{name: "unknown key in file", yaml: "policy:\n  block_treshold: 0.9\n", wantKey: "block_treshold"},
		{name: "zero pool", yaml: "index:\n  pool_size: 0\n", wantKey: "index.pool_size"},
		{name: "missing database", env: map[string]string{"DATABASE_URL": ""}, wantKey: "database.url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.yaml != "" {
				path = filepath.Join(t.TempDir(), "c.yaml")
				if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			env := secrets()
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := Load(path, tc.args, envOf(env))
			if err == nil {
				t.Fatal("expected an error")
			}
			if !strings.Contains(err.Error(), tc.wantKey) {
				t.Fatalf("error %q does not name %s", err, tc.wantKey)
			}
		})
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	env := secrets()
	env["BEHAVIOR_AUTH_PEPPER"] = "tiny-secret"
	_, err := Load("", nil, envOf(env))
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("want InvalidError, got %v", err)
	}
	if strings.Contains(err.Error(), "tiny-secret") {
		t.Fatalf("secret leaked into the error: %v", err)
	}
}

func TestEveryKeyHasAFlagAndVariable(t *testing.T) {
	cfg := Default()
	keys := keysOf(&cfg)
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k.name] {
			t.Fatalf("duplicate key %s", k.name)
		}
		seen[k.name] = true
		if !strings.HasPrefix(k.env, "BEHAVIOR_") {
			t.Fatalf("key %s has env %s", k.name, k.env)
		}
	}
	for _, want := range []string{"cluster.automanaged.hosts", "policy.degraded_action", "limits.outgoing_queue", "telemetry.traces"} {
		if !seen[want] {
			t.Errorf("missing key %s", want)
		}
	}
}
