// troupe deploy nginx (troupe deploy k8s: deploy_k8s_command.cpp): an nginx configuration that
// balances several `troupe serve` instances: least connections (a generation holds its connection
// for its whole length), server-sent events passed on as they come (no buffering), timeouts long
// enough for a generation, and kept-alive upstream connections.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "actors/cluster.hpp"
#include "cli/commands.hpp"

namespace troupe::cli {
namespace {

std::string nginx_http_block(const std::vector<std::pair<std::string, uint16_t>>& upstreams,
                             int listen, int read_timeout) {
  std::ostringstream out;
  out << "# Written by `troupe deploy nginx`: " << upstreams.size()
      << " troupe serve instances behind nginx.\n"
      << "upstream troupe {\n"
      << "    least_conn;  # a generation holds its connection: balance by open connections\n";
  for (const auto& [host, port] : upstreams) {
    out << "    server " << host << ":" << port << " max_fails=3 fail_timeout=10s;\n";
  }
  out << "    keepalive 64;\n"
      << "}\n\n"
      << "server {\n"
      << "    listen " << listen << ";\n"
      << "    client_max_body_size 8m;\n\n"
      << "    location / {\n"
      << "        proxy_pass http://troupe;\n"
      << "        proxy_http_version 1.1;\n"
      << "        proxy_set_header Connection \"\";  # keep upstream connections alive\n"
      << "        proxy_set_header Host $host;\n"
      << "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
      << "        # Server-sent events go to the client token by token, not when a buffer fills.\n"
      << "        proxy_buffering off;\n"
      << "        proxy_cache off;\n"
      << "        # A long generation may stream for minutes.\n"
      << "        proxy_read_timeout " << read_timeout << "s;\n"
      << "        proxy_send_timeout " << read_timeout << "s;\n"
      << "        # A refused or dead instance: try another (POSTs only before they were sent).\n"
      << "        proxy_next_upstream error timeout http_502 http_503;\n"
      << "    }\n"
      << "}\n";
  return out.str();
}

// The http block inside a complete nginx.conf that runs in the foreground with its pid file and
// logs under `prefix`: `nginx -c FILE` needs nothing else.
std::string standalone(const std::string& http_block, const std::string& prefix) {
  std::ostringstream out;
  out << "daemon off;\nworker_processes auto;\npid " << prefix << "/nginx.pid;\n"
      << "error_log " << prefix << "/error.log;\n\nevents {\n    worker_connections 4096;\n}\n\n"
      << "http {\n    access_log " << prefix << "/access.log;\n"
      << "    client_body_temp_path " << prefix << "/client_body;\n"
      << "    proxy_temp_path " << prefix << "/proxy;\n";
  std::istringstream lines(http_block);
  for (std::string line; std::getline(lines, line);) {
    out << (line.empty() ? "" : "    ") << line << "\n";
  }
  out << "}\n";
  return out.str();
}

}  // namespace

int deploy_command(const Args& args) {
  if (!args.empty() && args[0] == "k8s")
    return deploy_k8s_command(Args(args.begin() + 1, args.end()));
  if (args.empty() || args[0] != "nginx") {
    return input_error(
        "usage: troupe deploy nginx --upstream HOST:PORT ... | troupe deploy k8s [flags] (see "
        "--help)");
  }
  CommandSpec spec{
      "deploy nginx",
      "troupe deploy nginx --upstream HOST:PORT [--upstream ...] [flags]",
      "Prints an nginx configuration that balances the given troupe serve instances: least\n"
      "connections, SSE streams passed through unbuffered, long generation timeouts. By default\n"
      "an http-context file for conf.d; --standalone makes a whole nginx.conf.",
      {{"upstream", "HOST:PORT", "a troupe serve instance (repeatable, at least one)", true},
       {"listen", "PORT", "the port nginx listens on (default 8080)"},
       {"read-timeout", "S", "seconds a stream may stay silent (default 3600)"},
       {"standalone", "DIR", "a complete nginx.conf with its pid file and logs in DIR"},
       {"output", "FILE", "write the configuration here instead of printing it"}}};
  Flags flags;
  if (auto done = parse_flags(spec, Args(args.begin() + 1, args.end()), flags)) return *done;
  if (!flags.positional().empty()) {
    return input_error("unexpected argument '" + flags.positional()[0] + "'");
  }
  std::vector<std::pair<std::string, uint16_t>> upstreams;
  for (const auto& text : flags.get_all("upstream")) {
    auto upstream = parse_host_port(text);
    if (!upstream) return input_error("flag --upstream: " + upstream.message());
    upstreams.push_back(*upstream);
  }
  if (upstreams.empty()) return input_error("give at least one --upstream HOST:PORT");
  auto listen = flags.get_int("listen", 8080);
  if (!listen || *listen < 1 || *listen > 65535) {
    return input_error("flag --listen must be a port number (1-65535)");
  }
  auto timeout = flags.get_int("read-timeout", 3600);
  if (!timeout || *timeout < 1) return input_error("flag --read-timeout must be positive seconds");
  std::string config =
      nginx_http_block(upstreams, static_cast<int>(*listen), static_cast<int>(*timeout));
  if (auto prefix = flags.get("standalone")) config = standalone(config, *prefix);
  if (auto path = flags.get("output")) {
    std::ofstream file(*path);
    if (!(file << config)) return input_error("cannot write --output file " + *path);
    return 0;
  }
  std::fputs(config.c_str(), stdout);
  return 0;
}

}  // namespace troupe::cli
