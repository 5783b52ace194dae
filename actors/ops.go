package actors

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/behaviorauth/engine/actors/enginepb"
)

// opsName is the name of every member's operator actor, which answers its live sessions.
const opsName = "behavior-ops"

// opsActor answers LiveRequest with this member's registry of live sessions.
type opsActor struct{ e *Engine }

func (a *opsActor) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*enginepb.LiveRequest); ok {
		ls := a.e.registry.list()
		out := &enginepb.LiveList{Node: a.e.nodeName, Sessions: make([]*enginepb.LiveSessionInfo, 0, len(ls))}
		for _, s := range ls {
			out.Sessions = append(out.Sessions, &enginepb.LiveSessionInfo{
				SessionId: s.SessionID, UserId: s.UserID, State: s.State, Risk: s.Risk, LastAction: s.LastAction,
				Events: s.Events, Samples: s.Samples, Node: s.Node, StartedAtMs: s.StartedAt.UnixMilli(),
			})
		}
		ctx.Respond(out)
	}
}

// members tracks the members' remote addresses from topology events (the cluster's own member list is not safe
// to read while it changes).
type members struct {
	mu    sync.RWMutex
	addrs []string
}

func (m *members) set(t *cluster.ClusterTopology) {
	addrs := make([]string, 0, len(t.Members))
	for _, mb := range t.Members {
		addrs = append(addrs, mb.Address())
	}
	m.mu.Lock()
	m.addrs = addrs
	m.mu.Unlock()
}

func (m *members) list() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return append([]string(nil), m.addrs...)
}

// ClusterSessions lists the live sessions of every member, newest first, asking each member's operator actor
// within ctx's deadline (at most the request timeout). Members that did not answer are named in unreachable.
func (e *Engine) ClusterSessions(ctx context.Context) (sessions []LiveSession, unreachable []string) {
	timeout := e.reqTO
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	self := e.system.Address()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, addr := range e.members.list() {
		if addr == self {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.system.Root.RequestFuture(actor.NewPID(addr, opsName), &enginepb.LiveRequest{}, timeout).Result()
			l, ok := res.(*enginepb.LiveList)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || !ok {
				unreachable = append(unreachable, addr)
				return
			}
			for _, s := range l.Sessions {
				sessions = append(sessions, LiveSession{
					SessionID: s.SessionId, UserID: s.UserId, State: s.State, Risk: s.Risk, LastAction: s.LastAction,
					Events: s.Events, Samples: s.Samples, Node: s.Node, StartedAt: time.UnixMilli(s.StartedAtMs),
				})
			}
		}()
	}
	wg.Wait()
	sessions = append(sessions, e.registry.list()...)
	sort.Slice(sessions, func(i, j int) bool { return sessions[i].StartedAt.After(sessions[j].StartedAt) })
	sort.Strings(unreachable)
	return sessions, unreachable
}
