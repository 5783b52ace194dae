package node_test

import (
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/behaviorauth/engine/node/nodetest"
	"github.com/behaviorauth/engine/persistence/pgtest"
)

// startEtcd runs Debian's etcd on loopback ports in a temporary directory for the test's lifetime. It fails
// the test when etcd is missing: `make test` installs it (scripts/deps.sh).
func startEtcd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatalf("etcd not installed (scripts/deps.sh installs etcd-server): %v", err)
	}
	client := "127.0.0.1:" + strconv.Itoa(nodetest.FreePort(t))
	peer := "127.0.0.1:" + strconv.Itoa(nodetest.FreePort(t))
	cmd := exec.Command(bin, "--data-dir", t.TempDir(), "--name", "test",
		"--listen-client-urls", "http://"+client, "--advertise-client-urls", "http://"+client,
		"--listen-peer-urls", "http://"+peer, "--initial-advertise-peer-urls", "http://"+peer,
		"--initial-cluster", "test=http://"+peer, "--log-level", "error")
	// etcd dies with the test binary even when a crash skips the cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	nodetest.WaitFor(t, 20*time.Second, func() bool {
		resp, err := http.Get("http://" + client + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "etcd to answer")
	return client
}

// With the etcd provider, members join and leave on their own: a third node appears in everyone's view when it
// starts and disappears when it stops, with no configuration change on the others.
func TestEtcdMembersJoinAndLeave(t *testing.T) {
	endpoint := startEtcd(t)
	db := pgtest.URL(t)
	name := "etcd-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	start := func() *nodetest.Process {
		c := nodetest.ProcessConfig(t, db)
		c.Cluster.Name = name
		c.Cluster.Provider = "etcd"
		c.Cluster.Etcd.Endpoints = []string{endpoint}
		c.Cluster.Etcd.Prefix = "/" + name
		return nodetest.StartProcess(t, c)
	}
	a := start()
	b := start()
	nodetest.WaitFor(t, 30*time.Second, func() bool { return a.Members() == 2 && b.Members() == 2 }, "two members")
	c := start()
	nodetest.WaitFor(t, 30*time.Second, func() bool { return a.Members() == 3 && b.Members() == 3 && c.Members() == 3 }, "three members")
	c.Stop(t)
	nodetest.WaitFor(t, 60*time.Second, func() bool { return a.Members() == 2 && b.Members() == 2 }, "the third to leave")
	if st, _ := a.Ready(); st != http.StatusOK {
		t.Fatalf("node a not ready after the leave: %d", st)
	}
}
