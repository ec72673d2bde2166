package result

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// LoadDir reads every result.json below dir (recursively), sorted by
// broker, scenario and start time. A directory without any is an error.
func LoadDir(dir string) ([]*Result, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	var out []*Result
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != "result.json" {
			return nil
		}
		r, err := Read(path)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no result.json found under " + dir)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Broker.Name != b.Broker.Name {
			return a.Broker.Name < b.Broker.Name
		}
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		return a.StartedAt.Before(b.StartedAt)
	})
	return out, nil
}
