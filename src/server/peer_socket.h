// The socket a request arrived on, to see whether its client is still there.
//
// Why this exists: a non-streaming request writes nothing until its answer
// is complete, so a client that hangs up is invisible to the handler, and its
// generation would run on to max_tokens holding a slot. cpp-httplib 0.11.4
// (Debian's) gives handlers no access to the connection (newer versions have
// Request::is_connection_closed), so the socket is found by its addresses:
// the one open socket whose local and peer endpoints are the request's.
// While the handler runs, httplib keeps that socket open in the same thread,
// so the descriptor cannot be closed or reused under us.
#pragma once

#include <optional>
#include <string>

namespace frugal::server {

// The open TCP socket with these endpoints (as httplib's Request reports
// them: numeric host, port), or nullopt when none is found (then the caller
// just cannot tell early that the client left). Linux: scans /proc/self/fd.
std::optional<int> find_connection_socket(const std::string& remote_addr, int remote_port,
                                          const std::string& local_addr, int local_port);

// True when the peer has closed the connection or it failed (POLLRDHUP,
// POLLHUP or POLLERR): nothing more can be read from the client, which HTTP
// clients only do when they gave up on the response. Does not block.
bool peer_hung_up(int fd);

}  // namespace frugal::server
