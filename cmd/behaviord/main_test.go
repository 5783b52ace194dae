package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bad value fails start with a message naming the key, and a non-zero exit, before anything is started.
func TestBadConfigurationFailsStartNamingTheKey(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
	t.Setenv("BEHAVIOR_AUTH_SIGNING_KEY", strings.Repeat("s", 40))
	t.Setenv("BEHAVIOR_AUTH_PEPPER", strings.Repeat("p", 20))
	t.Setenv("BEHAVIOR_AUTH_OPERATOR_KEY", strings.Repeat("o", 30))
	bad := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(bad, []byte("policy:\n  degraded_action: shrug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"file value", []string{"-config", bad}, `policy.degraded_action = "shrug"`},
		{"flag value", []string{"-policy.challenge_threshold=2"}, `policy.challenge_threshold = "2"`},
		{"unknown flag", []string{"-no.such.key=1"}, "no.such.key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(tc.args, &stderr)
			if code == 0 {
				t.Fatal("start succeeded with a bad configuration")
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr %q does not contain %q", stderr.String(), tc.want)
			}
		})
	}
}
