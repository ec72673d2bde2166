package compose_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/mqbench/mqbench/compose"
	"github.com/mqbench/mqbench/compose/launch"
)

// TestComposeFileMatchesLaunchTable: every broker of the launch table has a
// compose profile of its name whose services publish, on 127.0.0.1, every
// port Status probes in compose mode; and every broker profile is in the
// table. (compose cannot import launch, which embeds this file: hence an
// external test package.)
func TestComposeFileMatchesLaunchTable(t *testing.T) {
	load := func(profiles ...string) *types.Project {
		p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
			WorkingDir:  t.TempDir(),
			ConfigFiles: []types.ConfigFile{{Filename: "docker-compose.yml", Content: compose.File()}},
			Environment: types.Mapping{},
		}, func(o *loader.Options) {
			o.SetProjectName(compose.Project, true)
			o.Profiles = profiles
		})
		if err != nil {
			t.Fatalf("compose file does not load: %v", err)
		}
		return p
	}
	for _, s := range launch.Specs() {
		published := map[int]bool{}
		services := 0
		for _, svc := range load(s.Name).Services {
			if !slices.Contains(svc.Profiles, s.Name) {
				continue
			}
			services++
			for _, p := range svc.Ports {
				if n, err := strconv.Atoi(p.Published); err == nil && p.HostIP == "127.0.0.1" {
					published[n] = true
				}
			}
		}
		if services == 0 {
			t.Errorf("%s: no compose service has profile %q", s.Name, s.Name)
		}
		for _, port := range s.Ports(launch.ModeCompose) {
			if !published[port] {
				t.Errorf("%s: port %d is probed in compose mode but not published on 127.0.0.1", s.Name, port)
			}
		}
	}
	for _, name := range launch.NamesFor(launch.TopologyCluster) {
		s, err := launch.FindTopology(name, launch.TopologyCluster)
		if err != nil {
			t.Fatal(err)
		}
		published := map[int]bool{}
		for _, svc := range load(name + "-cluster").Services {
			if !slices.Contains(svc.Profiles, "cluster") {
				t.Errorf("%s: service %s of profile %s-cluster is not in profile cluster", name, svc.Name, name)
			}
			for _, p := range svc.Ports {
				if n, err := strconv.Atoi(p.Published); err == nil && p.HostIP == "127.0.0.1" {
					published[n] = true
				}
			}
		}
		for _, port := range s.Ports(launch.ModeCompose) {
			if !published[port] {
				t.Errorf("%s cluster: port %d is probed in compose mode but not published on 127.0.0.1 by profile %s-cluster", name, port, name)
			}
		}
	}
	for _, svc := range load("*").Services {
		for _, prof := range svc.Profiles {
			base, cluster := strings.CutSuffix(prof, "-cluster")
			known := prof == "all" || prof == "cluster"
			if s, ok := launch.Find(base); ok {
				known = known || !cluster || s.HasTopology(launch.TopologyCluster)
			}
			if !known {
				t.Errorf("service %s has profile %q, which is not a broker (or broker cluster) of the launch table", svc.Name, prof)
			}
		}
	}
}
