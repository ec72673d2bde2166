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
		{launch.NodeStatus{Alive: true, Role: "master (brokerId 0)"}, cluster.RoleLeader},
		{launch.NodeStatus{Alive: true, Role: "lock holder"}, cluster.RoleLeader},
		{launch.NodeStatus{Alive: true, Role: "slave"}, cluster.RoleFollower},
		{launch.NodeStatus{Alive: true, Role: "controller leader"}, cluster.RoleFollower},
		{launch.NodeStatus{Alive: true, Role: "name server; controller leader"}, ""},
		{launch.NodeStatus{Alive: true, Role: "slave of broker-a, not in the sync state set"}, cluster.RoleSyncing},
		{launch.NodeStatus{Alive: true, Role: "slave of broker-a, in the sync state set"}, cluster.RoleFollower},
		{launch.NodeStatus{Alive: true, Role: "slave (not listening; no lock message in its log yet)"}, cluster.RoleSyncing},
		{launch.NodeStatus{Alive: true}, ""},
		{launch.NodeStatus{Alive: false, Role: "master"}, cluster.RoleDown},
	} {
		if got := roleOf(tt.ns); got != tt.want {
			t.Errorf("roleOf(%+v) = %q, want %q", tt.ns, got, tt.want)
		}
	}
}
