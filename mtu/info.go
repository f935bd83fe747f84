package mtu

import (
	"errors"
	"fmt"
	"time"
)

// ErrClosed is returned by Watch and WaitAcked when the connection was
// closed (RST, or fully closed) before the watched bytes were
// acknowledged.
var ErrClosed = errors.New("mtu: connection closed before the data was acknowledged")

// Verdict is Watch's answer.
type Verdict int

const (
	// Unknown is returned with an error.
	Unknown Verdict = iota
	// Delivered: every watched byte was acknowledged.
	Delivered
	// Lost: retransmissions without ACK progress for the loss limit.
	Lost
	// TimedOut: MaxWait passed with neither (no retransmission evidence,
	// e.g. the peer stopped reading and its window closed).
	TimedOut
)

func (v Verdict) String() string {
	switch v {
	case Unknown:
		return "unknown"
	case Delivered:
		return "delivered"
	case Lost:
		return "lost"
	case TimedOut:
		return "timed-out"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// WatchOptions tune Watch. The zero value is usable.
type WatchOptions struct {
	// MinWait is the least time without ACK progress before Lost; 0 means
	// no floor beyond RTOs × RTO.
	MinWait time.Duration
	// MaxWait bounds the whole watch; 0 means DefaultMaxWait.
	MaxWait time.Duration
	// RTOs is how many base RTOs without progress (with retransmissions)
	// mean lost; 0 means 2.
	RTOs int
	// Poll is the TCP_INFO polling interval; 0 means 2 ms. It is clamped
	// to 1..50 ms.
	Poll time.Duration
	// AnyProgress makes Watch return Delivered as soon as any of the
	// watched bytes is acknowledged, cumulatively (tcpi_bytes_acked above
	// AckedBefore, the value read before the write) or selectively
	// (tcpi_sacked > 0, RFC 2018): one full-size segment that arrived
	// proves that the path carries its size, whatever random loss did to
	// the others.
	AnyProgress bool
	AckedBefore uint64
	// LostAfter, if set, is asked at every poll for the caller's own loss
	// limit: a positive d means Lost once nothing was acknowledged for d,
	// retransmission evidence or not (e.g. d from a control probe of the
	// same round that was acknowledged long ago). 0 leaves the RTO rule.
	LostAfter func() time.Duration
}

// DefaultMaxWait bounds a Watch when WatchOptions.MaxWait is 0. A black hole
// is decided after 2 RTOs, which is far less unless the RTT is seconds.
const DefaultMaxWait = 15 * time.Second

func (o WatchOptions) withDefaults() WatchOptions {
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.RTOs <= 0 {
		o.RTOs = 2
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Millisecond
	}
	o.Poll = min(max(o.Poll, time.Millisecond), 50*time.Millisecond)
	return o
}

// IP and TCP header sizes without options (RFC 791, RFC 8200, RFC 9293).
const (
	ipv4Header  = 20
	ipv6Header  = 40
	tcpHeader   = 20
	tsOptionLen = 12 // RFC 7323 timestamps option, 10 bytes padded to 12
)

// Overhead is the number of bytes from a connection's send MSS as TCP_INFO
// reports it (tcpi_snd_mss) to the IP packet size of a full-sized segment:
// 40 (IPv4) or 60 (IPv6), plus 12 when timestamps were negotiated.
//
// Linux (net/ipv4/tcp_output.c, tcp_mtu_to_mss and tcp_current_mss) keeps
// two numbers: the MSS clamp, which is what TCP_MAXSEG sets and what the MSS
// option means (RFC 9293 §3.7.1: segment size without IP and TCP options,
// RFC 6691), and the send MSS (mss_cache, tcpi_snd_mss), which is the clamp
// minus the option bytes every segment carries — 12 with timestamps. So:
//
//	IP packet = tcpi_snd_mss + Overhead(v6, timestamps)
//	IP packet = TCP_MAXSEG + 40 (IPv4) or + 60 (IPv6), whether or not timestamps are on
//
// when the clamp, not the route MTU, limits the segment. Verified on
// loopback in throwaway network namespaces with net.ipv4.tcp_timestamps 1
// and 0 (TestMSSRule): with TCP_MAXSEG=1000, tcpi_snd_mss is 988 with
// timestamps and 1000 without, and an nftables rule dropping packets longer
// than 1040 (IPv4) / 1060 (IPv6) lets a full segment through while one
// dropping longer than 1039 / 1059 makes it vanish, in both cases. The rule
// of thumb "MSS+40 (IPv4) or MSS+60 (IPv6) with timestamps" holds for MSS = the
// TCP_MAXSEG value; with MSS = tcpi_snd_mss it is +52 / +72.
//
// SACK blocks are not counted: Linux shrinks a segment that carries them so
// the packet still fits.
func Overhead(v6 bool, timestamps bool) int {
	n := ipv4Header + tcpHeader
	if v6 {
		n = ipv6Header + tcpHeader
	}
	if timestamps {
		n += tsOptionLen
	}
	return n
}

// MSSForPacket is the inverse of Overhead: the tcpi_snd_mss of a connection
// whose full-sized segments are size-byte IP packets. Compare it with
// Info.SndMSS to see that a clamp took effect (a middlebox rewriting the MSS
// option makes it smaller).
func MSSForPacket(size int, v6, timestamps bool) int {
	return size - Overhead(v6, timestamps)
}

// ClampForPacket is the TCP_MAXSEG value (for Control) that makes full-sized
// segments size-byte IP packets: size-40 (IPv4) or size-60 (IPv6). It does not
// depend on timestamps, which are negotiated only after the clamp is set:
// the kernel subtracts the option bytes from the clamp itself.
func ClampForPacket(size int, v6 bool) int {
	return MSSForPacket(size, v6, false)
}

// PacketSize is the IP packet size of a full-sized segment of a connection
// with TCP_INFO i.
func PacketSize(i Info, v6 bool) int {
	return i.SndMSS + Overhead(v6, i.Timestamps())
}

// AdvPacket is the IP packet size the MSS option of our SYN allowed the
// server: tcpi_advmss is that option less the timestamp option once
// negotiated, like tcpi_snd_mss.
func AdvPacket(i Info, v6 bool) int {
	if i.AdvMSS == 0 {
		return 0
	}
	return i.AdvMSS + Overhead(v6, i.Timestamps())
}

// TCP states (include/net/tcp_states.h), for Info.State.
const (
	StateEstablished = 1
	StateClose       = 7
)

// Bits of Info.Options (include/uapi/linux/tcp.h).
const (
	OptTimestamps = 1
	OptSACK       = 2
	OptWScale     = 4
	OptECN        = 8
)

// Info is the part of Linux's struct tcp_info (include/uapi/linux/tcp.h)
// that the prober and the sessions' TCP evidence use. Counts are segments
// unless the name says bytes. TCPInfo fills it on Linux; elsewhere it stays
// zero.
type Info struct {
	State uint8 // tcpi_state: StateEstablished etc.
	// RTT is tcpi_rtt, the smoothed RTT (RFC 6298 SRTT).
	RTT time.Duration
	// RTTVar is tcpi_rttvar (RFC 6298 RTTVAR).
	RTTVar time.Duration
	// RTO is tcpi_rto, the current retransmission timeout, already backed off.
	RTO time.Duration
	// SndMSS is tcpi_snd_mss, the send MSS without TCP options; see Overhead.
	SndMSS int
	// RcvMSS is tcpi_rcv_mss: the kernel's estimate of the peer's MSS from
	// the largest segments received (excluding TCP options, like SndMSS).
	// A peer whose path MTU dropped sends smaller segments, and this shows it.
	RcvMSS int
	// AdvMSS is tcpi_advmss: the MSS we advertised in our SYN (clamped by
	// TCP_MAXSEG), less the timestamp option once negotiated, like SndMSS:
	// the peer's full-sized segments to us are AdvMSS+Overhead bytes.
	AdvMSS int
	// PMTU is tcpi_pmtu, the path MTU the socket uses now.
	PMTU int
	// Unacked is tcpi_unacked: segments sent and not yet acknowledged.
	Unacked int
	// Sacked is tcpi_sacked: segments selectively acknowledged (RFC 2018).
	Sacked int
	// Retransmits is tcpi_retransmits: consecutive RTO retransmissions now.
	Retransmits int
	// Backoff is tcpi_backoff: exponential RTO backoffs; RTO is already backed off.
	Backoff int
	// Retrans is tcpi_retrans: segments retransmitted and still unacknowledged.
	Retrans int
	// TotalRetrans is tcpi_total_retrans: segments retransmitted over the connection's life.
	TotalRetrans int
	// Lost is tcpi_lost: segments the kernel marked lost.
	Lost int
	// Reordering is tcpi_reordering: the reordering degree the kernel assumes.
	Reordering int
	// RcvOOOPack is tcpi_rcv_ooopack (Linux >= 5.4): out-of-order packets
	// received. HasRcvOOOPack says whether the kernel reported it.
	RcvOOOPack    int
	HasRcvOOOPack bool
	// BytesAcked is tcpi_bytes_acked; counts the SYN (and a FIN) as 1.
	BytesAcked uint64
	// BytesReceived is tcpi_bytes_received: payload bytes received in order
	// (counts the peer's SYN and FIN as 1 each).
	BytesReceived uint64
	// BytesSent is tcpi_bytes_sent (Linux >= 4.19), 0 if absent; includes retransmissions.
	BytesSent uint64
	// BytesRetrans is tcpi_bytes_retrans (Linux >= 4.19).
	BytesRetrans uint64
	// SegsOut and SegsIn are tcpi_segs_out / tcpi_segs_in: all segments, pure ACKs included.
	SegsOut, SegsIn int
	// DataSegsOut and DataSegsIn are tcpi_data_segs_out / tcpi_data_segs_in:
	// segments that carried payload.
	DataSegsOut, DataSegsIn int
	// LastDataSent, LastDataRecv and LastAckRecv are tcpi_last_data_sent,
	// tcpi_last_data_recv and tcpi_last_ack_recv: how long ago (ms resolution).
	LastDataSent, LastDataRecv, LastAckRecv time.Duration
	// SndCwnd is tcpi_snd_cwnd, in segments.
	SndCwnd int
	// NotSentBytes is tcpi_notsent_bytes: written but not yet sent.
	NotSentBytes int
	// Options is tcpi_options: OptTimestamps etc.
	Options uint8
}

// Timestamps reports whether the connection negotiated TCP timestamps
// (RFC 7323), which take 12 bytes of every segment.
func (i Info) Timestamps() bool { return i.Options&OptTimestamps != 0 }

// PMTUCache is a path MTU the kernel learned from ICMP towards one
// destination and keeps for a while (CachedPMTU).
type PMTUCache struct {
	MTU     int           // the cached path MTU; 0: none
	Expires time.Duration // time left before the kernel forgets it
}
