package wire

import (
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/mtu"
)

// ms2 is a sample offset in milliseconds.
func ms2(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// info builds a TCP_INFO sample of an established connection with a 200 ms
// RTO and a 1448-byte send MSS (IPv4 with timestamps).
func info(acked, recv uint64, f func(*mtu.Info)) mtu.Info {
	i := mtu.Info{State: mtu.StateEstablished, RTT: time.Millisecond, RTO: 200 * time.Millisecond,
		SndMSS: 1448, RcvMSS: 536, AdvMSS: 1448, PMTU: 1500, BytesAcked: acked, BytesReceived: recv,
		HasRcvOOOPack: true, Options: mtu.OptTimestamps | mtu.OptSACK}
	if f != nil {
		f(&i)
	}
	return i
}

func TestClassifyStall(t *testing.T) {
	// A session that wrote 200 bytes of commands (acked: bytes_acked 201,
	// the SYN counts one) and then a 1511-byte ClientHello: Sent 1711.
	const sent = 1711
	retrans := func(total, cur int) func(*mtu.Info) {
		return func(i *mtu.Info) { i.TotalRetrans, i.Retransmits, i.Unacked = total, cur, 2 }
	}
	tests := []struct {
		name      string
		in        stallInput
		want      stallKind
		wantSize  bool // SizeDependent
		wantOOO   int
		wantFor   time.Duration
		wantRetrx int
	}{
		{
			name: "no samples",
			in:   stallInput{Sent: sent},
			want: stallNone,
		},
		{
			name: "all acked, nothing owed",
			in: stallInput{Sent: sent, Samples: []tcpSample{
				{0, info(201, 300, nil)}, {ms2(10), info(sent+1, 300, nil)}}},
			want: stallNone,
		},
		{
			name: "outbound black hole: retransmitted, no progress for two RTOs, small segments acked",
			in: stallInput{Sent: sent, LargestAcked: 30, Samples: []tcpSample{
				{0, info(201, 300, nil)},
				{ms2(5), info(201, 300, func(i *mtu.Info) { i.Unacked = 2 })},
				{ms2(210), info(201, 300, retrans(1, 1))},
				{ms2(405), info(201, 300, retrans(2, 1))},
			}},
			want: stallOut, wantSize: true, wantFor: ms2(405), wantRetrx: 2,
		},
		{
			name: "outbound, not yet two RTOs",
			in: stallInput{Sent: sent, LargestAcked: 30, Samples: []tcpSample{
				{0, info(201, 300, nil)},
				{ms2(210), info(201, 300, retrans(1, 1))},
				{ms2(390), info(201, 300, retrans(1, 1))},
			}},
			want: stallNone, wantFor: ms2(390), wantRetrx: 1,
		},
		{
			name: "outbound: two RTOs of the backed-off RTO do not count, the base does",
			in: stallInput{Sent: sent, LargestAcked: 30, Samples: []tcpSample{
				{0, info(201, 300, nil)},
				{ms2(210), info(201, 300, func(i *mtu.Info) { retrans(1, 1)(i); i.RTO = 400 * time.Millisecond })},
				{ms2(420), info(201, 300, func(i *mtu.Info) { retrans(1, 1)(i); i.RTO = 400 * time.Millisecond })},
			}},
			want: stallOut, wantSize: true, wantFor: ms2(420), wantRetrx: 1,
		},
		{
			name: "outbound: one retransmission is not enough when two are asked for",
			in: stallInput{Sent: sent, LargestAcked: 30, MinRetrans: 2, Samples: []tcpSample{
				{0, info(201, 300, nil)},
				{ms2(210), info(201, 300, retrans(1, 1))},
				{ms2(450), info(201, 300, retrans(1, 1))},
			}},
			want: stallNone, wantFor: ms2(450), wantRetrx: 1,
		},
		{
			name: "outbound: two retransmissions when two are asked for",
			in: stallInput{Sent: sent, LargestAcked: 30, MinRetrans: 2, Samples: []tcpSample{
				{0, info(201, 300, nil)},
				{ms2(210), info(201, 300, retrans(1, 1))},
				{ms2(405), info(201, 300, retrans(2, 1))},
			}},
			want: stallOut, wantSize: true, wantFor: ms2(405), wantRetrx: 2,
		},
		{
			name: "outbound: slow peer, no retransmission is no evidence",
			in: stallInput{Sent: sent, LargestAcked: 30, Samples: []tcpSample{
				{0, info(201, 300, nil)},
				{ms2(900), info(201, 300, func(i *mtu.Info) { i.Unacked = 2 })},
			}},
			want: stallNone, wantFor: ms2(900),
		},
		{
			name: "outbound: ACK progress restarts the clock",
			in: stallInput{Sent: sent, LargestAcked: 30, Samples: []tcpSample{
				{0, info(201, 300, nil)},
				{ms2(210), info(201, 300, retrans(1, 1))},
				{ms2(300), info(1649, 300, retrans(1, 0))},
				{ms2(500), info(1649, 300, retrans(2, 1))},
			}},
			want: stallNone, wantFor: ms2(200), wantRetrx: 1,
		},
		{
			name: "outbound loss of segments no larger than ones acked before: not size-dependent",
			in: stallInput{Sent: sent, LargestAcked: 1448, Samples: []tcpSample{
				{0, info(201, 300, nil)},
				{ms2(210), info(201, 300, retrans(1, 1))},
				{ms2(450), info(201, 300, retrans(2, 2))},
			}},
			want: stallOut, wantSize: false, wantFor: ms2(450), wantRetrx: 2,
		},
		{
			name: "outbound with nothing known acked: not size-dependent",
			in: stallInput{Sent: sent, Samples: []tcpSample{
				{0, info(1, 300, nil)},
				{ms2(450), info(1, 300, retrans(2, 2))},
			}},
			want: stallOut, wantFor: ms2(450), wantRetrx: 2,
		},
		{
			name: "outbound: a retransmission just before the last standstill counts",
			in: stallInput{Sent: sent, LargestAcked: 30, Samples: []tcpSample{
				{0, info(201, 300, nil)},
				{ms2(10), info(900, 300, nil)},
				{ms2(20), info(901, 300, func(i *mtu.Info) { i.TotalRetrans = 1 })},
				{ms2(430), info(901, 300, func(i *mtu.Info) { i.TotalRetrans = 1 })},
			}},
			want: stallOut, wantSize: true, wantFor: ms2(410), wantRetrx: 1,
		},
		{
			name: "inbound: ClientHello acked, one segment out of order, no bytes in order for two RTOs",
			in: stallInput{Sent: sent, AwaitPeer: true, Samples: []tcpSample{
				{0, info(201, 300, func(i *mtu.Info) { i.DataSegsIn = 5 })},
				{ms2(2), info(sent+1, 300, func(i *mtu.Info) { i.RcvOOOPack, i.DataSegsIn = 1, 6 })},
				{ms2(410), info(sent+1, 300, func(i *mtu.Info) { i.RcvOOOPack, i.DataSegsIn = 1, 6 })},
			}},
			want: stallIn, wantOOO: 1, wantFor: ms2(408),
		},
		{
			name: "inbound: without rcv_ooopack, data segments without in-order bytes count",
			in: stallInput{Sent: sent, AwaitPeer: true, Samples: []tcpSample{
				{0, info(201, 300, func(i *mtu.Info) { i.HasRcvOOOPack, i.DataSegsIn = false, 5 })},
				{ms2(2), info(sent+1, 300, func(i *mtu.Info) { i.HasRcvOOOPack, i.DataSegsIn = false, 7 })},
				{ms2(500), info(sent+1, 300, func(i *mtu.Info) { i.HasRcvOOOPack, i.DataSegsIn = false, 7 })},
			}},
			want: stallIn, wantOOO: 2, wantFor: ms2(498),
		},
		{
			name: "inbound: the flight arrives in order",
			in: stallInput{Sent: sent, AwaitPeer: true, Samples: []tcpSample{
				{0, info(201, 300, nil)},
				{ms2(2), info(sent+1, 4000, func(i *mtu.Info) { i.DataSegsIn = 9 })},
				{ms2(500), info(sent+1, 4000, func(i *mtu.Info) { i.DataSegsIn = 9 })},
			}},
			want: stallNone, wantFor: ms2(498),
		},
		{
			name: "inbound: nothing at all arrives (a slow server) is not decided here",
			in: stallInput{Sent: sent, AwaitPeer: true, Samples: []tcpSample{
				{0, info(201, 300, nil)},
				{ms2(2), info(sent+1, 300, nil)},
				{ms2(5000), info(sent+1, 300, nil)},
			}},
			want: stallNone, wantFor: ms2(4998),
		},
		{
			name: "inbound: out of order, then the hole filled in order",
			in: stallInput{Sent: sent, AwaitPeer: true, Samples: []tcpSample{
				{0, info(201, 300, nil)},
				{ms2(2), info(sent+1, 300, func(i *mtu.Info) { i.RcvOOOPack = 1 })},
				{ms2(250), info(sent+1, 5000, func(i *mtu.Info) { i.RcvOOOPack = 1 })},
				{ms2(700), info(sent+1, 5000, func(i *mtu.Info) { i.RcvOOOPack = 1 })},
			}},
			want: stallNone, wantFor: ms2(450),
		},
		{
			name: "inbound not considered when nothing is owed",
			in: stallInput{Sent: sent, Samples: []tcpSample{
				{0, info(201, 300, nil)},
				{ms2(2), info(sent+1, 300, func(i *mtu.Info) { i.RcvOOOPack = 1 })},
				{ms2(700), info(sent+1, 300, func(i *mtu.Info) { i.RcvOOOPack = 1 })},
			}},
			want: stallNone,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifyStall(tt.in)
			if got.Kind != tt.want || got.SizeDependent != tt.wantSize || got.OutOfOrder != tt.wantOOO ||
				got.For != tt.wantFor || got.Retransmits != tt.wantRetrx {
				t.Errorf("classifyStall(%s) = {kind %v, size %v, ooo %d, for %v, retrans %d}, want {kind %v, size %v, ooo %d, for %v, retrans %d}",
					tt.name, got.Kind, got.SizeDependent, got.OutOfOrder, got.For, got.Retransmits,
					tt.want, tt.wantSize, tt.wantOOO, tt.wantFor, tt.wantRetrx)
			}
		})
	}
}

func TestTCPTrackFold(t *testing.T) {
	tests := []struct {
		name   string
		writes []int
		acked  uint64 // tcpi_bytes_acked (SYN = 1)
		mss    int
		want   int
	}{
		{"nothing written", nil, 1, 1448, 0},
		{"commands acked", []int{20, 30, 25}, 76, 1448, 30},
		{"commands acked, ClientHello not", []int{20, 30, 1511}, 51, 1448, 30},
		{"the ClientHello's first segment acked", []int{20, 30, 1511}, 51 + 1448, 1448, 1448},
		{"a big write counts as one full-size segment", []int{5000}, 5001, 1448, 1448},
		{"nothing acked", []int{20}, 1, 1448, 0},
		{"no MSS known", []int{20}, 21, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr tcpTrack
			for _, n := range tt.writes {
				tr.wrote(n)
			}
			if got := tr.fold(mtu.Info{BytesAcked: tt.acked, SndMSS: tt.mss}); got != tt.want {
				t.Errorf("fold(writes %v, bytes_acked %d, snd_mss %d) = %d, want %d", tt.writes, tt.acked, tt.mss, got, tt.want)
			}
		})
	}
	// What was folded stays known after the writes are forgotten.
	var tr tcpTrack
	tr.wrote(40)
	tr.fold(mtu.Info{BytesAcked: 41, SndMSS: 1448})
	tr.wrote(1511)
	if got := tr.fold(mtu.Info{BytesAcked: 41, SndMSS: 1448}); got != 40 {
		t.Errorf("fold after a lost write = %d, want 40", got)
	}
	if first, n := tr.since(40); first != 1511 || n != 1511 {
		t.Errorf("since(40) = %d, %d, want 1511, 1511", first, n)
	}
	if got := tr.total(); got != 1551 {
		t.Errorf("total() = %d, want 1551", got)
	}
}

func TestStallErrorBlackhole(t *testing.T) {
	tests := []struct {
		e    StallError
		want bool
	}{
		{StallError{Direction: Outbound, LostPacket: 1500, AckedPacket: 71}, true},
		{StallError{Direction: Outbound, LostPacket: 1500, AckedPacket: 1500}, false},
		{StallError{Direction: Outbound, LostPacket: 1500}, false},
		{StallError{Direction: Inbound, LostPacket: 1500}, false},
		{StallError{Direction: Inbound, LostPacket: 1500, Confirmed: true}, true},
	}
	for _, tt := range tests {
		if got := tt.e.Blackhole(); got != tt.want {
			t.Errorf("(%+v).Blackhole() = %v, want %v", tt.e, got, tt.want)
		}
	}
}
