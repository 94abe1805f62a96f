package pipeline

import "github.com/twmb/franz-go/pkg/kgo"

// stagePartitioner sends changelog records to the partition the runtime set
// on them (the input partition whose state they carry) and every other
// record by the hash of its key, with the same murmur2 hash as Kafka's Java
// clients, so that topics keyed alike are co-partitioned whichever client
// wrote them.
type stagePartitioner struct {
	manual    map[string]bool
	byKey     kgo.Partitioner
	byHandSet kgo.Partitioner
}

func newStagePartitioner(manualTopics ...string) kgo.Partitioner {
	m := make(map[string]bool, len(manualTopics))
	for _, t := range manualTopics {
		m[t] = true
	}
	return &stagePartitioner{manual: m, byKey: kgo.StickyKeyPartitioner(nil), byHandSet: kgo.ManualPartitioner()}
}

func (p *stagePartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if p.manual[topic] {
		return p.byHandSet.ForTopic(topic)
	}
	return p.byKey.ForTopic(topic)
}
