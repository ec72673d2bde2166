package driver

import "context"

// Durability is what a confirmed Send on one destination promises, as the
// broker reports it. It is read back over the broker's own protocol or admin
// API after Provision, never taken from what a launcher meant to configure,
// so that a result can show that every broker promised the same thing.
type Durability struct {
	// Promise says in words what a confirm means on this destination, for
	// example "fsynced by the leader before the confirm".
	Promise string `json:"promise"`
	// Synced is true when a confirm means the message was synced to disk
	// (fsync or an equivalent) on at least one node before the confirm.
	Synced bool `json:"synced"`
	// Replicas is how many nodes hold a confirmed message before the
	// confirm (1 on a single node).
	Replicas int `json:"replicas"`
	// Settings are the broker settings that decide the promise, by the
	// broker's own names, with the values the broker reported.
	Settings map[string]string `json:"settings"`
	// Source says how Settings were read, for example "DescribeConfigs on
	// the topic".
	Source string `json:"source"`
	// Verified is false when the broker offers no way to read a setting
	// that decides the promise; Promise then says what is assumed and why.
	Verified bool `json:"verified"`
}

// DurabilityReader is implemented by drivers that can read back what a
// confirm promises on a provisioned destination. Discover it with a type
// assertion, as database/sql does for optional interfaces.
type DurabilityReader interface {
	// Durability reads the settings that decide what a confirmed Send to
	// dest promises under the driver's profile. dest must be provisioned.
	Durability(ctx context.Context, dest Destination) (Durability, error)
}
