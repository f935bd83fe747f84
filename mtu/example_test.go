package mtu_test

import (
	"fmt"

	"github.com/smtpprobe/smtpprobe/mtu"
)

// The size arithmetic of a probe: which send MSS a full-sized segment of
// a 1436-byte IP packet has, with and without TCP timestamps, and back.
func ExampleMSSForPacket() {
	for _, v6 := range []bool{false, true} {
		for _, ts := range []bool{false, true} {
			mss := mtu.MSSForPacket(1436, v6, ts)
			fmt.Printf("v6=%v timestamps=%v: snd_mss %d, packet %d\n", v6, ts, mss, mss+mtu.Overhead(v6, ts))
		}
	}
	// Output:
	// v6=false timestamps=false: snd_mss 1396, packet 1436
	// v6=false timestamps=true: snd_mss 1384, packet 1436
	// v6=true timestamps=false: snd_mss 1376, packet 1436
	// v6=true timestamps=true: snd_mss 1364, packet 1436
}

// The MTUs a search pins first: a bottleneck on one of them is bracketed
// exactly in the first rounds.
func ExamplePlateaus() {
	fmt.Println(mtu.Plateaus)
	// Output:
	// [1500 1492 1480 1460 1440 1420 1400 1380 1280 576]
}
