#pragma once
// What troupe adds to the TLS sessions of CAF 0.17's OpenSSL module, which it cannot configure:
// - A clean error queue. CAF never clears OpenSSL's per-thread error queue before a TLS call,
//   and SSL_get_error() reports SSL_ERROR_SSL while any earlier error is queued. So one failed
//   handshake (a process without the cluster secret) left its error behind, and the next "would
//   block" read on a healthy node's connection, on the same network thread, was taken for a
//   fatal error: every joined node was dropped.
// - A log line for each refused handshake, naming the peer: CAF drops them silently.
// troupe defines the TLS calls CAF makes (SSL_read, SSL_write, SSL_accept, SSL_connect) in its
// own executable, where the dynamic linker binds CAF's calls; each clears the queue, calls
// OpenSSL's own definition, and SSL_accept logs a handshake that failed.

namespace troupe {

// Links the definitions into the executable (they live in a static library); call it where
// the OpenSSL module is loaded.
void use_tls_session_hooks();

}  // namespace troupe
