#include "server/peer_socket.h"

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <string_view>

namespace frugal::server {
namespace {

// "host", port of an endpoint, formatted as httplib formats them
// (getnameinfo, numeric host and service).
bool endpoint(const sockaddr_storage& a, socklen_t len, std::string& host, int& port) {
  char h[NI_MAXHOST], s[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&a), len, h, sizeof h, s, sizeof s,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return false;
  host = h;
  port = std::atoi(s);
  return true;
}

bool matches(int fd, const std::string& remote_addr, int remote_port,
             const std::string& local_addr, int local_port) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return false;  // not a
  std::string host;                                                              // connected
  int port = -1;                                                                 // socket
  if (!endpoint(a, len, host, port) || port != remote_port || host != remote_addr) return false;
  len = sizeof a;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return false;
  if (!endpoint(a, len, host, port)) return false;
  return port == local_port && (local_addr.empty() || host == local_addr);
}

}  // namespace

std::optional<int> find_connection_socket(const std::string& remote_addr, int remote_port,
                                          const std::string& local_addr, int local_port) {
  if (remote_port <= 0 || local_port <= 0) return std::nullopt;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return std::nullopt;
  const int own = dirfd(dir);
  std::optional<int> found;
  while (const dirent* e = readdir(dir)) {
    std::string_view name(e->d_name);
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    const int fd = std::atoi(e->d_name);
    if (fd == own) continue;
    if (matches(fd, remote_addr, remote_port, local_addr, local_port)) {
      found = fd;
      break;
    }
  }
  closedir(dir);
  return found;
}

bool peer_hung_up(int fd) {
  pollfd p{fd, static_cast<short>(POLLRDHUP), 0};
  if (poll(&p, 1, 0) < 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace frugal::server
