package wire

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// resetOnClose sets SO_LINGER with a zero timeout on a connect's socket
// before its SYN, so that a hedged Dial's abandoned connect ends with an
// RST however it is closed (by us, or by the dialer itself when the
// connect completes just as it is abandoned): no FIN, no TIME_WAIT. The
// winning connection gets the default back (lingerDefault).
func resetOnClose(c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}); err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt SO_LINGER", serr)
}
