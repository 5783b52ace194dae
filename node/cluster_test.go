package node_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/auth"
	"github.com/behaviorauth/engine/node/nodetest"
	"github.com/behaviorauth/engine/persistence/pgtest"
)

// Two nodes on one database form one cluster: a session started through one node is reached through the other,
// and it survives the first node leaving (its state comes back from Postgres on the remaining member).
func TestTwoNodeClusterRoutesAndSurvivesALeave(t *testing.T) {
	db := pgtest.URL(t)
	a := nodetest.Config(t, db)
	b := nodetest.Config(t, db)
	hosts := []string{"127.0.0.1:" + strconv.Itoa(a.Cluster.Automanaged.Port), "127.0.0.1:" + strconv.Itoa(b.Cluster.Automanaged.Port)}
	b.Cluster.Name = a.Cluster.Name
	a.Cluster.Automanaged.Hosts, b.Cluster.Automanaged.Hosts = hosts, hosts
	a.Policy.SnapshotInterval, b.Policy.SnapshotInterval = 100*time.Millisecond, 100*time.Millisecond
	na := nodetest.StartWith(t, a)
	nb := nodetest.StartWith(t, b)
	nodetest.WaitFor(t, 30*time.Second, func() bool {
		return na.Members() == 2 && nb.Members() == 2
	}, "both nodes to see two members")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := auth.Client{Addr: "127.0.0.1"}
	uid, err := na.Auth().Register(ctx, auth.RegisterRequest{Phone: "+919812345678", Password: "a long password 1", MPIN: "480917"}, cl)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := na.Auth().Login(ctx, auth.LoginRequest{Phone: "+919812345678", Password: "a long password 1"}, cl)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := na.Auth().VerifyAccess(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	// Several sessions, so that the hash ring places some on each member.
	var ids []string
	for i := 0; i < 6; i++ {
		g, err := na.Auth().StartSession(ctx, claims, "480917", cl)
		if err != nil {
			t.Fatal(err)
		}
		if err := na.Engine().StartSession(ctx, g.SessionID, uid, claims.LoginID, g.ExpiresAt); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, g.SessionID)
	}
	nodes := map[string]bool{}
	for i, id := range ids {
		evs := []*enginepb.Event{{Kind: enginepb.EventKind_EVENT_KIND_NAV, T: 1, Screen: "home"}}
		r, err := nb.Engine().Events(ctx, id, &enginepb.Events{Seq: 1, Events: evs})
		if err != nil || r.AckSeq != 1 {
			t.Fatalf("session %d through node b: %v %v", i, r, err)
		}
		st, err := na.Engine().Status(ctx, id)
		if err != nil || st.Events != 1 {
			t.Fatalf("session %d through node a: %v %v", i, st, err)
		}
		nodes[st.Node] = true
	}
	if len(nodes) != 2 {
		t.Logf("sessions all landed on %v (placement is by hash; not an error)", nodes)
	}

	time.Sleep(300 * time.Millisecond) // let snapshots reach Postgres
	na.Stop(t)
	nodetest.WaitFor(t, 30*time.Second, func() bool { return nb.Members() == 1 }, "node a to leave")
	for i, id := range ids {
		var st *enginepb.Status
		nodetest.WaitFor(t, 20*time.Second, func() bool {
			sctx, c := context.WithTimeout(ctx, 2*time.Second)
			defer c()
			st, err = nb.Engine().Status(sctx, id)
			return err == nil
		}, "session "+strconv.Itoa(i)+" on the remaining node")
		if st.Events != 1 || st.LastSeq != 1 || st.Node != nb.Addr() {
			t.Fatalf("session %d after node a left: %+v", i, st)
		}
	}
}
