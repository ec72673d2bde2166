package main

import (
	"testing"

	"github.com/mqbench/mqbench/compose/launch"
	"github.com/mqbench/mqbench/scenarios/cluster"
)

// TestRoleOf: the roles brokers report map to cluster's roles; a dead
// node is down whatever it last said.
func TestRoleOf(t *testing.T) {
	for _, tt := range []struct {
		ns   launch.NodeStatus
		want string
	}{
		{launch.NodeStatus{Alive: true, Standing: launch.StandingLeader}, cluster.RoleLeader},
		{launch.NodeStatus{Alive: true, Standing: launch.StandingReplica}, cluster.RoleFollower},
		{launch.NodeStatus{Alive: true, Standing: launch.StandingSyncing}, cluster.RoleSyncing},
		{launch.NodeStatus{Alive: true, Standing: launch.StandingRouter}, ""},
		{launch.NodeStatus{Alive: true}, ""},
		{launch.NodeStatus{Alive: false, Standing: launch.StandingLeader}, cluster.RoleDown},
	} {
		if got := roleOf(tt.ns); got != tt.want {
			t.Errorf("roleOf(%+v) = %q, want %q", tt.ns, got, tt.want)
		}
	}
}
