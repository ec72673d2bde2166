package main

import (
	"context"
	"fmt"
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
