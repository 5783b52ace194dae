package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/behaviorauth/engine/node/nodetest"
	"github.com/behaviorauth/engine/persistence/pgtest"
)

// call sends a JSON request and decodes the JSON answer into out, failing the test on an unexpected status.
func call(t *testing.T, method, url, bearer string, in, out any, want int) {
	t.Helper()
	var body bytes.Buffer
	if in != nil {
		_ = json.NewEncoder(&body).Encode(in)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url, &body)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, raw)
		}
	}
}

type grant struct {
	SessionID    string `json:"session_id"`
	SessionToken string `json:"session_token"`
}

// sendNav sends one `events` message of seq over a WebSocket to node and waits for its ack.
func sendNav(t *testing.T, node, sessionID, token string, seq int) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial(strings.Replace(node, "http", "ws", 1)+"/v1/ws?session_id="+sessionID,
		http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatalf("dial %s: %v", node, err)
	}
	defer c.Close()
	msg := fmt.Sprintf(`{"type":"events","seq":%d,"events":[{"kind":"nav","t":%d,"screen":"home"}]}`, seq, seq)
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for ack %d from %s: %v", seq, node, err)
		}
		if strings.Contains(string(b), `"type":"ack"`) {
			return
		}
	}
}

// Two nodes (processes of the real binary) on one database form one cluster: a session started through one
// node is reached through the other, and survives the first node leaving (its state comes back from Postgres
// on the remaining member).
func TestTwoNodeClusterRoutesAndSurvivesALeave(t *testing.T) {
	db := pgtest.URL(t)
	a := nodetest.ProcessConfig(t, db)
	b := nodetest.ProcessConfig(t, db)
	hosts := []string{"127.0.0.1:" + strconv.Itoa(a.Cluster.Automanaged.Port), "127.0.0.1:" + strconv.Itoa(b.Cluster.Automanaged.Port)}
	b.Cluster.Name = a.Cluster.Name
	a.Cluster.Automanaged.Hosts, b.Cluster.Automanaged.Hosts = hosts, hosts
	a.Policy.SnapshotInterval, b.Policy.SnapshotInterval = 100*time.Millisecond, 100*time.Millisecond
	na := nodetest.StartProcess(t, a)
	nb := nodetest.StartProcess(t, b)
	nodetest.WaitFor(t, 30*time.Second, func() bool { return na.Members() == 2 && nb.Members() == 2 }, "both nodes to see two members")

	call(t, "POST", na.URL+"/v1/auth/register", "", map[string]string{"phone": "+919812345678", "password": "a long password 1", "mpin": "480917"}, nil, http.StatusCreated)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	call(t, "POST", na.URL+"/v1/auth/login", "", map[string]string{"phone": "+919812345678", "password": "a long password 1"}, &tok, http.StatusOK)

	// Several sessions, so that the hash ring places some on each member.
	var gs []grant
	for i := 0; i < 6; i++ {
		var g grant
		call(t, "POST", na.URL+"/v1/auth/mpin/verify", tok.AccessToken, map[string]string{"mpin": "480917"}, &g, http.StatusCreated)
		gs = append(gs, g)
	}
	type status struct {
		Events int64  `json:"events"`
		Node   string `json:"node"`
		State  string `json:"state"`
	}
	placed := map[string]int{}
	for i, g := range gs {
		sendNav(t, nb.URL, g.SessionID, g.SessionToken, 1)
		var st status
		call(t, "GET", na.URL+"/v1/sessions/"+g.SessionID, g.SessionToken, nil, &st, http.StatusOK)
		if st.Events != 1 {
			t.Fatalf("session %d: events %d through the other node", i, st.Events)
		}
		placed[st.Node]++
	}
	t.Logf("sessions per member: %v", placed)

	// The operator view, asked of either node, lists every member's sessions with the node each runs on.
	var ops struct {
		Sessions []struct {
			SessionID string `json:"session_id"`
			Node      string `json:"node"`
		} `json:"sessions"`
		Unreachable []string `json:"unreachable"`
	}
	call(t, "GET", nb.URL+"/v1/ops/sessions", nodetest.OperatorKey, nil, &ops, http.StatusOK)
	listed := map[string]int{}
	for _, s := range ops.Sessions {
		listed[s.Node]++
	}
	if len(ops.Sessions) != len(gs) || len(ops.Unreachable) != 0 || len(listed) != len(placed) {
		t.Fatalf("operator view: %+v, want %d sessions on %v", ops, len(gs), placed)
	}
	for node, n := range placed {
		if listed[node] != n {
			t.Fatalf("operator view lists %v, sessions are placed %v", listed, placed)
		}
	}

	time.Sleep(400 * time.Millisecond) // snapshots reach Postgres within the snapshot interval
	na.Stop(t)
	nodetest.WaitFor(t, 30*time.Second, func() bool { return nb.Members() == 1 }, "node a to leave")
	for i, g := range gs {
		var st status
		nodetest.WaitFor(t, 20*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", nb.URL+"/v1/sessions/"+g.SessionID, nil)
			req.Header.Set("Authorization", "Bearer "+g.SessionToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil
		}, "session "+strconv.Itoa(i)+" on the remaining node")
		if st.Events != 1 || st.State != "active" || st.Node != strings.TrimPrefix(nb.URL, "http://") {
			t.Fatalf("session %d after node a left: %+v", i, st)
		}
		// It goes on taking events where it was: the next seq applies.
		sendNav(t, nb.URL, g.SessionID, g.SessionToken, 2)
	}
}
