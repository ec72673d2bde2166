package kafka

import (
	"context"
	"fmt"
	"strconv"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

// topicConfigs are the topic settings Provision sets for a profile. The
// durable profile flushes every message to disk before the leader answers
// (flush.messages=1): on one node, acks=all alone only reaches the page
// cache, which would promise less than the other brokers' durable confirms.
func topicConfigs(p driver.Profile) []kafkago.ConfigEntry {
	if p != driver.Durable {
		return nil
	}
	return []kafkago.ConfigEntry{{ConfigName: "flush.messages", ConfigValue: "1"}}
}

// durabilityKeys are the topic settings that decide what a confirm means.
func durabilityKeys() []string {
	return []string{"flush.messages", "flush.ms", "min.insync.replicas", "unclean.leader.election.enable"}
}

// Durability implements driver.DurabilityReader: the topic's flush and
// replication settings read back with DescribeConfigs and Metadata, and the
// producer's acks level.
func (d *Driver) Durability(ctx context.Context, dest driver.Destination) (driver.Durability, error) {
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	res, err := d.client.DescribeConfigs(ctx, &kafkago.DescribeConfigsRequest{
		Resources: []kafkago.DescribeConfigRequestResource{{
			ResourceType: kafkago.ResourceTypeTopic, ResourceName: dest.Name, ConfigNames: durabilityKeys(),
		}},
	})
	if err != nil {
		return driver.Durability{}, fmt.Errorf("kafka: describe configs of %q: %w", dest.Name, err)
	}
	if len(res.Resources) != 1 || res.Resources[0].Error != nil {
		return driver.Durability{}, fmt.Errorf("kafka: describe configs of %q: %v", dest.Name, res.Resources)
	}
	set := map[string]string{"acks": acksName(d.acks)}
	for _, e := range res.Resources[0].ConfigEntries {
		set[e.ConfigName] = e.ConfigValue
	}
	md, err := d.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{dest.Name}})
	if err != nil || len(md.Topics) != 1 || len(md.Topics[0].Partitions) == 0 {
		return driver.Durability{}, fmt.Errorf("kafka: metadata of %q: %v", dest.Name, err)
	}
	rf := len(md.Topics[0].Partitions[0].Replicas)
	set["replication.factor"] = strconv.Itoa(rf)
	set["in.sync.replicas"] = strconv.Itoa(len(md.Topics[0].Partitions[0].Isr))
	return kafkaPromise(d.cfg.EffectiveProfile(), set, rf), nil
}

// kafkaPromise derives the promise from the settings read back.
func kafkaPromise(p driver.Profile, set map[string]string, rf int) driver.Durability {
	du := driver.Durability{Settings: set, Source: "DescribeConfigs and Metadata on the topic; acks is the producer's", Verified: true, Replicas: 1}
	isr, _ := strconv.Atoi(set["min.insync.replicas"])
	if set["acks"] == "all" && rf > 1 {
		du.Replicas = min(max(isr, 1), rf)
	}
	du.Synced = set["flush.messages"] == "1"
	switch {
	case p == driver.Unsafe:
		du.Synced, du.Replicas = false, 0
		du.Promise = "none: Send returns before the broker answers (unsafe profile)"
	case du.Synced && du.Replicas > 1:
		du.Promise = fmt.Sprintf("replicated and flushed: acks=all waits for at least %d in-sync replicas of %d (min.insync.replicas=%s), each appending with flush.messages=1 (fsync per append) before it acknowledges", du.Replicas, rf, set["min.insync.replicas"])
	case du.Synced:
		du.Promise = fmt.Sprintf("fsynced by the leader before the confirm (flush.messages=1), held by at least %d replica(s)", du.Replicas)
	default:
		du.Promise = fmt.Sprintf("in the page cache of at least %d replica(s) (flush.messages=%s): not fsynced before the confirm", du.Replicas, set["flush.messages"])
	}
	return du
}

// acksName names an acks level as Kafka's producer configuration does.
func acksName(a kafkago.RequiredAcks) string {
	switch a {
	case kafkago.RequireAll:
		return "all"
	case kafkago.RequireOne:
		return "1"
	default:
		return "0"
	}
}
