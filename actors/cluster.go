package actors

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	"github.com/asynkron/protoactor-go/remote"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/behaviorauth/engine/config"
)

// NewSystem creates the node's actor system, logging through logger.
func NewSystem(logger *slog.Logger) *actor.ActorSystem {
	l := logger.With("component", "actor")
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return l }))
}

// StartCluster joins system to the cluster that cfg describes, hosting kinds. Proto.Actor panics on bad provider
// settings or an unreachable provider; that becomes an error here so the node exits cleanly with the reason.
func StartCluster(system *actor.ActorSystem, cfg config.Cluster, kinds []*cluster.Kind) (c *cluster.Cluster, err error) {
	var provider cluster.ClusterProvider
	switch cfg.Provider {
	case "automanaged":
		provider = automanaged.NewWithConfig(cfg.Automanaged.RefreshTTL, cfg.Automanaged.Port, cfg.Automanaged.Hosts...)
	case "etcd":
		p, perr := etcd.NewWithConfig(cfg.Etcd.Prefix, clientv3.Config{Endpoints: cfg.Etcd.Endpoints, DialTimeout: cfg.Etcd.DialTimeout})
		if perr != nil {
			return nil, fmt.Errorf("actors: etcd provider: %w", perr)
		}
		provider = p
	default:
		return nil, fmt.Errorf("actors: unknown cluster provider %q", cfg.Provider)
	}
	remoteCfg := remote.Configure(cfg.Host, cfg.Port)
	ccfg := cluster.Configure(cfg.Name, provider, NewPlacement(cfg.RequestTimeout), remoteCfg,
		cluster.WithKinds(kinds...),
		cluster.WithRequestTimeout(cfg.RequestTimeout),
		cluster.WithHeartbeatExpiration(10*time.Second),
	)
	c = cluster.New(system, ccfg)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("actors: start cluster member: %v", r)
		}
	}()
	c.StartMember()
	return c, nil
}
