package launch

import (
	"io/fs"
	"path/filepath"
)

// DataDir returns the directory in which the natively launched broker name
// keeps its data (its message store): <Home>/<name>/data, e.g.
// RABBITMQ_MNESIA_BASE, ActiveMQ's KahaDB, Kafka's log.dirs, RocketMQ's
// storePathRootDir. ok is false for an unknown broker name. Brokers
// started through Docker Compose keep their data in Docker volumes, not
// here. For a cluster it is the cluster's directory <Home>/<name>-cluster,
// which holds every node's data (and their small conf and logs).
func (l *Launcher) DataDir(name string) (dir string, ok bool) {
	s, err := FindTopology(name, l.opts.Topology)
	if err != nil {
		return "", false
	}
	if s.Topology == TopologyCluster {
		return filepath.Join(l.home, s.dirName()), true
	}
	return filepath.Join(l.home, name, "data"), true
}

// DirSize returns the total size in bytes of the regular files under dir
// (symbolic links are not followed). ok is false when dir cannot be read;
// files that vanish during the walk (a broker deleting segments) are
// skipped.
func DirSize(dir string) (bytes int64, ok bool) {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err // dir itself is unreadable
			}
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				bytes += info.Size()
			}
		}
		return nil
	})
	return bytes, err == nil
}
