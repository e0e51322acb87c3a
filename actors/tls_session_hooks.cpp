#include "actors/tls_session_hooks.hpp"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <string>

namespace troupe {

void use_tls_session_hooks() {}

namespace {

// OpenSSL's own definition of `name`: the next one after this executable's.
template <typename Function>
Function openssl_definition(Function, const char* name) {
  return reinterpret_cast<Function>(::dlsym(RTLD_NEXT, name));
}

std::string peer_address(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return "an unknown peer";
  }
  char text[INET6_ADDRSTRLEN] = "?";
  const void* bytes =
      address.ss_family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&address)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&address)->sin_addr);
  ::inet_ntop(address.ss_family, bytes, text, sizeof text);
  return text;
}

// The peer's address, noted on the session when its handshake begins: by the time a handshake
// fails, the peer may have reset the connection and getpeername() no longer knows it.
int peer_index() {
  static const int index = SSL_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* peer, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<std::string*>(peer);
      });
  return index;
}

void note_peer(SSL* ssl) {
  if (SSL_get_ex_data(ssl, peer_index())) return;
  SSL_set_ex_data(ssl, peer_index(), new std::string(peer_address(SSL_get_fd(ssl))));
}

std::string peer_of(const SSL* ssl) {
  const auto* peer = static_cast<const std::string*>(SSL_get_ex_data(ssl, peer_index()));
  return peer ? *peer : peer_address(SSL_get_fd(ssl));
}

// At most one line a second, so that a flood of bad connections cannot flood the log.
void log_refused_handshake(const SSL* ssl) {
  static std::atomic<int64_t> last_second{0};
  static std::atomic<int> unlogged{0};
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = last_second.load();
  if (now == last || !last_second.compare_exchange_strong(last, now)) {
    ++unlogged;
    return;
  }
  char reason[256] = "no reason given";
  if (const unsigned long error = ERR_peek_error())
    ERR_error_string_n(error, reason, sizeof reason);
  const int others = unlogged.exchange(0);
  spdlog::warn(
      "cluster: refused a connection from {}: the TLS handshake failed ({}); a node must hold "
      "the cluster's secret{}",
      peer_of(ssl), reason,
      others > 0 ? " (" + std::to_string(others) + " more refused since the last line)" : "");
}

}  // namespace
}  // namespace troupe

namespace troupe {
namespace {

// After a TLS call on a server's session that was still handshaking (CAF's non-blocking
// sessions go on with the handshake inside SSL_read and SSL_write): log it if it failed.
int after_server_call(SSL* ssl, bool handshaking, int result) {
  if (result <= 0 && handshaking && SSL_is_server(ssl)) {
    const int error = SSL_get_error(ssl, result);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) log_refused_handshake(ssl);
  }
  return result;
}

}  // namespace
}  // namespace troupe

extern "C" {

int SSL_read(SSL* ssl, void* buffer, int size) {
  static const auto real = troupe::openssl_definition(&SSL_read, "SSL_read");
  ERR_clear_error();
  const bool handshaking = !SSL_is_init_finished(ssl);
  return troupe::after_server_call(ssl, handshaking, real(ssl, buffer, size));
}

int SSL_write(SSL* ssl, const void* buffer, int size) {
  static const auto real = troupe::openssl_definition(&SSL_write, "SSL_write");
  ERR_clear_error();
  const bool handshaking = !SSL_is_init_finished(ssl);
  return troupe::after_server_call(ssl, handshaking, real(ssl, buffer, size));
}

int SSL_accept(SSL* ssl) {
  static const auto real = troupe::openssl_definition(&SSL_accept, "SSL_accept");
  ERR_clear_error();
  troupe::note_peer(ssl);
  return troupe::after_server_call(ssl, true, real(ssl));
}

int SSL_connect(SSL* ssl) {
  static const auto real = troupe::openssl_definition(&SSL_connect, "SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

}  // extern "C"
