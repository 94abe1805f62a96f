package link

import (
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/transforms/reference"
)

func TestEntryCodecRoundTrip(t *testing.T) {
	d, _ := reference.ParseDate("2026-11-15")
	for _, e := range []Entry{
		{Seen: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC).UnixNano()},
		{Seen: -1},
		{Original: &Original{EventTime: 1796083260000000000, Recipients: []Recipient{
			{RepID: "R-17", Share: decimal.RequireFromString("0.6"), Via: ViaIdentity, RepSince: d},
			{RepID: "R-22", Share: decimal.RequireFromString("0.4"), Via: ViaRep, RepSince: reference.Forever},
		}}},
		{Parked: &Parked{Seq: 42, ParkedAt: 1796083260000000001, Sale: "crm:S-1", Reason: ReasonUnknownRep, Field: "rep_id",
			Message: `rep "R-9" is not known on 2026-11-03`, Topic: "sales.canonical", Partition: 3, Offset: 1 << 40,
			Timestamp: 1796083260123, Key: []byte("crm:S-1"), Value: []byte(`{"event_id":"crm:S-1:sale"}`),
			Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("crm")}, {Key: "empty", Value: []byte{}}, {Key: "nil"}}}},
		{Parked: &Parked{Seq: 1}}, // a record without key or value
	} {
		b := EntryCodec{}.Encode(nil, e)
		got, err := EntryCodec{}.Decode(b)
		if err != nil {
			t.Fatalf("%+v: %v", e, err)
		}
		if e.Original != nil {
			// Decimals compare by value.
			for i, r := range got.Original.Recipients {
				if !r.Share.Equal(e.Original.Recipients[i].Share) {
					t.Errorf("share %s, want %s", r.Share, e.Original.Recipients[i].Share)
				}
				got.Original.Recipients[i].Share = e.Original.Recipients[i].Share
			}
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
		}
	}
	for _, b := range [][]byte{nil, {'s', 1}, {'x'}, {'o', 2, 200}, {'p', 2, 4, 250, 1}} {
		if _, err := (EntryCodec{}).Decode(b); err == nil {
			t.Errorf("%q decoded", b)
		}
	}
}

func FuzzEntryCodec(f *testing.F) {
	f.Add(EntryCodec{}.Encode(nil, Entry{Seen: 7}))
	f.Add(EntryCodec{}.Encode(nil, Entry{Original: &Original{EventTime: 9, Recipients: []Recipient{{RepID: "R", Share: decimal.NewFromInt(1), Via: ViaRep}}}}))
	f.Add(EntryCodec{}.Encode(nil, Entry{Parked: &Parked{Seq: 1, Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "h"}}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := EntryCodec{}.Decode(b)
		if err != nil {
			return
		}
		again, err := EntryCodec{}.Decode(EntryCodec{}.Encode(nil, e))
		if err != nil {
			t.Fatalf("re-encoding of a decoded entry does not decode: %v", err)
		}
		if (again.Original == nil) != (e.Original == nil) || (again.Parked == nil) != (e.Parked == nil) || again.Seen != e.Seen {
			t.Fatalf("round trip changed the entry: %+v → %+v", e, again)
		}
	})
}
