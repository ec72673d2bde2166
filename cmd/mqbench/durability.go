package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// durabilityTimeout bounds the read-back of what a confirm promises.
const durabilityTimeout = 30 * time.Second

// readDurability provisions a destination of the run's own (prefix +
// "-durability"), reads back from the broker what a confirm promises on it,
// and deletes it again. It returns nil and a note when the driver cannot
// read it back or the read fails: a run is never refused for that, but its
// result says so.
func readDurability(ctx context.Context, drv driver.Driver, prefix string) (*driver.Durability, string) {
	dr, ok := drv.(driver.DurabilityReader)
	if !ok {
		return nil, "durability not read back: the driver cannot read what a confirm promises"
	}
	ctx, cancel := context.WithTimeout(ctx, durabilityTimeout)
	defer cancel()
	dest := driver.Destination{Name: prefix + "-durability", Groups: []string{"durability"}}
	cleanup, err := drv.Provision(ctx, dest)
	if err != nil {
		return nil, fmt.Sprintf("durability not read back: provision %s: %s", dest.Name, oneLine(err.Error()))
	}
	defer func() { _ = cleanup(ctx) }()
	du, err := dr.Durability(ctx, dest)
	if err != nil {
		return nil, "durability not read back: " + oneLine(err.Error())
	}
	if !du.Verified {
		return &du, "durability partly assumed: " + du.Promise
	}
	return &du, ""
}

// profileMismatch decides, from what a confirm promises as read back from
// the broker (du, nil when it could not be read), whether the broker can
// honour profile p: durable needs a confirm that waits for a disk sync, fast
// one that does not wait. It returns "" when the run may go ahead (also when
// du is nil or unverified: the result then says what was assumed), else why
// not, in one line naming the settings read.
func profileMismatch(p driver.Profile, du *driver.Durability) string {
	if du == nil || !du.Verified {
		return ""
	}
	switch {
	case p == driver.Durable && !du.Synced:
		return fmt.Sprintf("the durable profile needs a broker that syncs to disk before it confirms, but it reports %s (%s)", settingsLine(du.Settings), du.Promise)
	case p == driver.Fast && du.Synced:
		return fmt.Sprintf("the fast profile needs a broker whose confirms do not wait for a disk sync, but it reports %s (%s)", settingsLine(du.Settings), du.Promise)
	}
	return ""
}

// mismatchHint tells how to get a broker in the configuration profile p
// needs: for a broker mqbench manages, the up command; else the settings.
func mismatchHint(broker string, p driver.Profile, managed bool) string {
	flag := ""
	if p == driver.Fast {
		flag = " --async-flush"
	}
	if managed {
		return fmt.Sprintf("restart it in that configuration: mqbench down --brokers %s && mqbench up --brokers %s%s", broker, broker, flag)
	}
	return "configure the broker for that profile (see README, Durability profiles), or choose the profile it is configured for"
}

// settingsLine renders settings as sorted key=value pairs.
func settingsLine(set map[string]string) string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + set[k]
	}
	return strings.Join(parts, ", ")
}
