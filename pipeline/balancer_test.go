package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A stage with several inputs shares partition p's state between them:
// whatever members join and leave, every member must own the same
// partitions of each input. The cooperative sticky balancer broke this
// (found by the fault suite's rebalances, faults/): two instances restored
// and wrote one state partition, and returns lost their sales.
func TestBalancerKeepsInputsCoPartitioned(t *testing.T) {
	inputs := []string{"credited", "overrides", "recompute"}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, inputs...), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var mu sync.Mutex
	owned := map[int]map[string][]int32{} // member: topic: partitions
	join := func(m int) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics(inputs...),
			kgo.Balancers(balancer(inputs)), kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(100*time.Millisecond),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
				mu.Lock()
				defer mu.Unlock()
				for topic, ps := range a {
					owned[m][topic] = append(owned[m][topic], ps...)
				}
			}),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
				mu.Lock()
				defer mu.Unlock()
				for topic, ps := range r {
					owned[m][topic] = slices.DeleteFunc(owned[m][topic], func(p int32) bool { return slices.Contains(ps, p) })
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		owned[m] = map[string][]int32{}
		mu.Unlock()
		go func() {
			for !cl.PollFetches(context.Background()).IsClientClosed() {
			}
		}()
		return cl
	}
	// settled: every partition of every input owned once, and each
	// member's partitions the same in every input.
	settled := func(live map[int]*kgo.Client) error {
		mu.Lock()
		defer mu.Unlock()
		for _, topic := range inputs {
			var all []int32
			for m := range live {
				all = append(all, owned[m][topic]...)
			}
			slices.Sort(all)
			if !slices.Equal(all, []int32{0, 1, 2, 3}) {
				return fmt.Errorf("%s owned %v", topic, all)
			}
		}
		for m := range live {
			want := slices.Sorted(slices.Values(owned[m][inputs[0]]))
			for _, topic := range inputs[1:] {
				if got := slices.Sorted(slices.Values(owned[m][topic])); !slices.Equal(got, want) {
					return fmt.Errorf("member %d owns %v of %s and %v of %s", m, want, inputs[0], got, topic)
				}
			}
		}
		return nil
	}
	live := map[int]*kgo.Client{}
	defer func() {
		for _, cl := range live {
			cl.Close()
		}
	}()
	check := func(step string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for err := settled(live); err != nil; err = settled(live) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v", step, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for m := range 3 {
		live[m] = join(m)
	}
	check("three members")
	for m := 3; m < 8; m++ { // one leaves, another joins
		live[m-3].Close()
		delete(live, m-3)
		check(fmt.Sprintf("member %d left", m-3))
		live[m] = join(m)
		check(fmt.Sprintf("member %d joined", m))
	}
}
