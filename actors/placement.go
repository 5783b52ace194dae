package actors

import (
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
)

// activatorName is the name of the actor on every member that spawns and tracks that member's activations.
const activatorName = "behavior-activator"

// Placement is the engine's identity lookup: it places each session and profile on one member by rendezvous
// hashing over the members that host its kind, and asks that member's activator for the activation.
//
// It does what Proto.Actor's disthash lookup does, with one difference that matters: the hash ring is swapped
// under a lock when the topology changes, while requests read it. The disthash version of the pinned library
// writes and reads the ring without one (upstream issue #1131), a data race that a node taking requests while
// members join can hit.
type Placement struct {
	c         *cluster.Cluster
	mu        sync.RWMutex
	rdv       *cluster.Rendezvous
	sub       *eventstream.Subscription
	activator *actor.PID
	timeout   time.Duration
}

var _ cluster.IdentityLookup = (*Placement)(nil)

// NewPlacement returns an identity lookup whose activation requests wait at most timeout.
func NewPlacement(timeout time.Duration) *Placement {
	return &Placement{rdv: cluster.NewRendezvous(), timeout: timeout}
}

// Setup starts the member's activator and follows the topology.
func (p *Placement) Setup(c *cluster.Cluster, _ []string, _ bool) {
	p.c = c
	sys := c.ActorSystem
	props := actor.PropsFromProducer(func() actor.Actor {
		return &activator{c: c, byKey: make(map[string]*actor.PID), byPID: make(map[string]*cluster.ClusterIdentity)}
	})
	act, _ := sys.Root.SpawnNamed(props, activatorName)
	p.activator = act
	p.sub = sys.EventStream.Subscribe(func(ev any) {
		t, ok := ev.(*cluster.ClusterTopology)
		if !ok {
			return
		}
		rdv := cluster.NewRendezvous()
		rdv.UpdateMembers(t.Members)
		p.mu.Lock()
		p.rdv = rdv
		p.mu.Unlock()
		sys.Root.Send(act, t)
	})
}

// Get returns the activation of identity, spawning it on its owner member when it has none.
func (p *Placement) Get(ci *cluster.ClusterIdentity) *actor.PID {
	p.mu.RLock()
	owner := p.rdv.GetByClusterIdentity(ci)
	p.mu.RUnlock()
	if owner == "" {
		return nil
	}
	res, err := p.c.ActorSystem.Root.RequestFuture(actor.NewPID(owner, activatorName),
		&cluster.ActivationRequest{ClusterIdentity: ci}, p.timeout).Result()
	if err != nil {
		return nil
	}
	r, ok := res.(*cluster.ActivationResponse)
	if !ok || r.Failed {
		return nil
	}
	return r.Pid
}

// RemovePid tells every member's pid cache that an activation is gone.
func (p *Placement) RemovePid(ci *cluster.ClusterIdentity, pid *actor.PID) {
	p.c.MemberList.BroadcastEvent(&cluster.ActivationTerminated{Pid: pid, ClusterIdentity: ci}, true)
}

// Shutdown stops following the topology and stops the activator; its children, every activation of this member,
// stop with it (sessions snapshot themselves as they stop).
func (p *Placement) Shutdown() {
	if p.c == nil {
		return
	}
	if p.sub != nil {
		p.c.ActorSystem.EventStream.Unsubscribe(p.sub)
		p.sub = nil
	}
	if p.activator != nil {
		if err := p.c.ActorSystem.Root.PoisonFuture(p.activator).Wait(); err != nil {
			p.c.Logger().Warn("activator did not stop", slog.Any("error", err))
		}
		p.activator = nil
	}
}

// activator spawns this member's activations as its children and forgets them when they stop. When the
// topology moves an identity to another member, its activation here is stopped (it resumes there from Postgres).
type activator struct {
	c     *cluster.Cluster
	byKey map[string]*actor.PID
	byPID map[string]*cluster.ClusterIdentity // by pid.Id
}

func (a *activator) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cluster.ActivationRequest:
		ctx.Respond(a.activate(ctx, m.ClusterIdentity))
	case *actor.Terminated:
		if ci, ok := a.byPID[m.Who.Id]; ok {
			delete(a.byPID, m.Who.Id)
			delete(a.byKey, ci.AsKey())
			if k := a.c.GetClusterKind(ci.Kind); k != nil {
				k.Dec()
			}
			a.c.MemberList.BroadcastEvent(&cluster.ActivationTerminated{Pid: m.Who, ClusterIdentity: ci}, true)
		}
	case *cluster.ClusterTopology:
		rdv := cluster.NewRendezvous()
		rdv.UpdateMembers(m.Members)
		me := a.c.ActorSystem.Address()
		for _, pid := range a.byKey {
			if ci := a.byPID[pid.Id]; ci != nil && rdv.GetByClusterIdentity(ci) != me {
				ctx.Poison(pid)
			}
		}
	}
}

func (a *activator) activate(ctx actor.Context, ci *cluster.ClusterIdentity) *cluster.ActivationResponse {
	if ci == nil {
		return &cluster.ActivationResponse{Failed: true}
	}
	key := ci.AsKey()
	if pid, ok := a.byKey[key]; ok {
		// An activation that stopped on its own (idle, or an unknown session) is gone from the registry before
		// its Terminated reaches this actor: answer a fresh one rather than the dead pid.
		if _, alive := a.c.ActorSystem.ProcessRegistry.GetLocal(pid.Id); alive {
			return &cluster.ActivationResponse{Pid: pid}
		}
		delete(a.byPID, pid.Id)
		delete(a.byKey, key)
		if k := a.c.GetClusterKind(ci.Kind); k != nil {
			k.Dec()
		}
	}
	kind := a.c.GetClusterKind(ci.Kind)
	if kind == nil {
		ctx.Logger().Error("activation of an unknown kind", slog.String("kind", ci.Kind))
		return &cluster.ActivationResponse{Failed: true}
	}
	pid := ctx.SpawnPrefix(cluster.WithClusterIdentity(kind.Props, ci), ci.Identity)
	kind.Inc()
	a.byKey[key] = pid
	a.byPID[pid.Id] = ci
	return &cluster.ActivationResponse{Pid: pid}
}
