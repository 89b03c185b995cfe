// find_connection_socket / peer_hung_up on real loopback TCP connections:
// the accepted socket is found from its endpoints as httplib reports them,
// and a client's close (or shutdown of its sending side) is seen without
// blocking, while a live client, even one that sent more bytes, is not.
#include "server/peer_socket.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace {

struct Connection {
  int listener = -1, client = -1, accepted = -1;
  int server_port = 0, client_port = 0;
  ~Connection() {
    for (int fd : {listener, client, accepted})
      if (fd >= 0) close(fd);
  }
};

int port_of(int fd, bool peer) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if ((peer ? getpeername : getsockname)(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return -1;
  return ntohs(a.sin_port);
}

void connect_loopback(Connection& c) {
  c.listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(c.listener, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(c.listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(c.listener, 4), 0);
  c.server_port = port_of(c.listener, false);
  a.sin_port = htons(static_cast<uint16_t>(c.server_port));
  c.client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(c.client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  c.accepted = accept(c.listener, nullptr, nullptr);
  ASSERT_GE(c.accepted, 0);
  c.client_port = port_of(c.client, false);
}

TEST(PeerSocket, FindsTheAcceptedSocketByItsEndpoints) {
  Connection c;
  connect_loopback(c);
  // The server's view: peer = the client's port, local = the listener's port.
  auto fd = frugal::server::find_connection_socket("127.0.0.1", c.client_port, "127.0.0.1",
                                                   c.server_port);
  ASSERT_TRUE(fd.has_value());
  EXPECT_EQ(*fd, c.accepted);
  // Wrong port or address: nothing (the client's own socket has the endpoints
  // the other way round and must not match).
  EXPECT_FALSE(frugal::server::find_connection_socket("127.0.0.1", c.client_port + 1,
                                                      "127.0.0.1", c.server_port));
  EXPECT_FALSE(frugal::server::find_connection_socket("127.0.0.2", c.client_port, "127.0.0.1",
                                                      c.server_port));
  EXPECT_FALSE(frugal::server::find_connection_socket("127.0.0.1", -1, "127.0.0.1",
                                                      c.server_port));
}

TEST(PeerSocket, SeesAClosedClientButNotALiveOne) {
  Connection c;
  connect_loopback(c);
  EXPECT_FALSE(frugal::server::peer_hung_up(c.accepted));
  // Unread bytes from the client (a pipelined request) are not a hang-up.
  ASSERT_EQ(write(c.client, "GET / HTTP/1.1\r\n", 16), 16);
  usleep(10000);
  EXPECT_FALSE(frugal::server::peer_hung_up(c.accepted));
  close(c.client);
  c.client = -1;
  usleep(10000);
  EXPECT_TRUE(frugal::server::peer_hung_up(c.accepted));
}

TEST(PeerSocket, SeesAClientThatShutItsSendingSide) {
  Connection c;
  connect_loopback(c);
  ASSERT_EQ(shutdown(c.client, SHUT_WR), 0);
  usleep(10000);
  EXPECT_TRUE(frugal::server::peer_hung_up(c.accepted));
}

}  // namespace
