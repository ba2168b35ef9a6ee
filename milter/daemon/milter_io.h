// What the daemon changes in libmilter's own socket I/O, through the linker's --wrap of
// poll(), accept(), read(), close() and writev() (policy-milter links libmilter statically; see
// CMakeLists.txt). libmilter offers no hook for any of them, and they are where the time
// and the descriptors go.
//
// AcceptGate (libmilter's listener polls its socket alone, then calls accept(); the gate
// runs inside that poll and answers the accept):
//   - sets TCP_NODELAY on a TCP listening socket and each connection, so the header
//     changes and the answer are not held back by Nagle until the MTA's delayed ACK, and
//     (read() wrapped) ACKs each read at once (TCP_QUICKACK): the MTA keeps Nagle on, and
//     after a command without a reply it would otherwise wait for our delayed ACK
//   - a new connection is handed to libmilter (which gives it to its workers) only once it
//     has sent something: Postfix sends its option negotiation at once, an idle connection
//     never does; until then it costs a descriptor, and after `handshake_timeout` it is
//     closed. At most `max_connections` wait so; the oldest waiting one is closed first.
//   - at most `max_connections` are served at once (the callbacks report open/closed
//     sessions); over that a ready connection waits for a slot (still bounded by the
//     handshake timeout), so a flood of connections cannot take every descriptor.
//   The poll keeps libmilter's own timeout, so the listener still checks for shutdown.
// Read-ahead: a session's bytes are read from the socket in one read() of up to 16 KiB and
// libmilter's reads (a command's header, then its body) and its polls for reading are
// answered from that buffer while it holds bytes - one system call for several commands
// instead of five per command. Dropped when libmilter closes the session.
// Coalesced replies (libmilter writes each header change and the answer with its own
// writev()): between begin_coalescing() and the next final answer (accept, continue,
// discard, reject, tempfail, reply code) on the same thread, libmilter's writes are
// gathered and sent as one write.
// Errors: the wrappers keep the contract of the calls they wrap (-1 and errno); accept()
// answers EAGAIN when no connection is ready, which libmilter's listener retries.
// Thread safety: the gate is used by libmilter's single listener thread; session_opened/
// closed and figures from any thread; coalescing is per thread.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>

namespace pm {

struct GateSettings {
  unsigned max_connections = 1000;
  unsigned handshake_timeout_seconds = 10;
};

struct GateFigures {
  std::uint64_t active = 0, waiting = 0, accepted = 0, closed_silent = 0, closed_over_limit = 0;
};

// Turns the gate on (before smfi_main); without it poll() and accept() pass through.
void gate_configure(const GateSettings& settings);
// The listening socket to gate: found among the open descriptors after smfi_opensocket()
// (returns it, or -1), or named (tests).
int gate_find_listener();
void gate_set_listener(int fd);
// What the wrapped poll() and accept() do for the listener; exposed for the unit tests.
// gate_poll: > 0 when a connection is ready to take, 0 after `timeout_ms`.
int gate_poll(struct pollfd* listener, int timeout_ms);
int gate_take(sockaddr* addr, socklen_t* len);
// Sessions libmilter is serving (counted by the negotiate and close callbacks).
void gate_session_opened();
void gate_session_closed();
GateFigures gate_figures();

// Gathers this thread's libmilter writes until its next final answer (see above).
void begin_coalescing();

}  // namespace pm
