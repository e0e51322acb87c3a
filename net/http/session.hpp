#pragma once
// One connection: reads requests, hands each to the handler, writes what the handler's sink
// sends. Internal to net/http (it includes Beast); the server makes sessions.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "net/http/http_server.hpp"

namespace troupe::http {

// What the server counts over its sessions: open connections (for --max-connections) and those
// answering a request (a graceful stop waits for them).
struct SessionCounts {
  std::atomic<int> open{0};
  std::atomic<int> answering{0};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(boost::asio::ip::tcp::socket socket, const ServerConfig& config, Handler& handler,
          const TransportEvents& events, std::shared_ptr<SessionCounts> counts);
  ~Session();
  void start();
  // Refuses the connection with one response (used when there are too many).
  void refuse(int status, const std::string& message);

  // The sink's calls, posted onto the session's strand; `exchange` says which request they
  // answer, so a late call for an earlier request does nothing.
  void post(std::function<void(Session&)> work);
  void respond(uint64_t exchange, Response response);
  void start_stream(uint64_t exchange, int status, std::string content_type, Headers headers);
  void write_chunk(uint64_t exchange, std::string data);
  void finish(uint64_t exchange);
  void on_disconnect(uint64_t exchange, std::function<void()> callback);

 private:
  enum class Waiting { nothing, idle, request };
  // What the read side is doing: nothing pending, a read watching the socket (for the next
  // request's first bytes, or for the client leaving while an answer is made), or a request
  // being parsed (timed out: --request-timeout passed and the read was cancelled).
  enum class Read { idle, watching, parsing, parse_timed_out };
  // How far the current exchange's answer is: none between requests; awaited from dispatch
  // until the handler answers; started once a stream's head is queued; complete once its last
  // bytes are queued; abandoned when the connection closed before that. The session is counted
  // as answering, and holds itself alive, from awaited to complete.
  enum class Answer { none, awaited, started, complete, abandoned };
  bool parsing() const { return read_ == Read::parsing || read_ == Read::parse_timed_out; }
  bool answering() const { return answer_open() || answer_ == Answer::complete; }
  bool answer_open() const { return answer_ == Answer::awaited || answer_ == Answer::started; }

  void arm_timer(Waiting what, std::chrono::milliseconds after);
  void on_timer(Waiting what);
  void read_more();
  void skip_blank_lines();
  void on_read_some(boost::beast::error_code ec, std::size_t bytes);
  void parse_request();
  void on_header(boost::beast::error_code ec);
  void on_request(boost::beast::error_code ec);
  void dispatch();
  void complete_answer(std::string bytes);
  void end_exchange();
  void set_answer(Answer answer);  // keeps counts_->answering and the hold in step
  void send(std::string bytes);
  void write_next();
  void arm_write_timer();
  void fail_transport(int status, const std::string& message);
  void disconnected();
  void close();

  // A plain socket, not beast::tcp_stream: its timeouts close the socket, and a 408 must still
  // be written. Our own timer cancels the read instead.
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  // While bytes wait to be written: a client that takes none of them for idle_timeout (its
  // window closed: it stopped reading) is cut, or its answer and connection would stay forever.
  boost::asio::steady_timer write_timer_;
  Waiting waiting_ = Waiting::nothing;
  Read read_ = Read::idle;
  // Bounded: Beast holds a chunk's extensions and the trailer whole before parsing them, and
  // neither counts against the header or body limit (a bad request past this is a 400).
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  const ServerConfig& config_;
  Handler& handler_;
  const TransportEvents& events_;
  std::shared_ptr<SessionCounts> counts_;

  uint64_t exchange_ = 0;  // the request being answered (counts from 1)
  Answer answer_ = Answer::none;
  // The session itself, held while answering: the handler's sink holds it only weakly, and no
  // read may be pending (a pipelined request waits in the buffer), so nothing else would.
  std::shared_ptr<Session> answering_hold_;
  bool keep_alive_ = true;     // the current request's; false after a transport error
  bool head_request_ = false;  // the current request is a HEAD: its answer goes without a body
  bool closed_ = false;
  std::function<void()> disconnect_callback_;
  std::deque<std::string> out_;   // queued bytes; the front one is being written when any are
  std::size_t unsent_bytes_ = 0;  // in out_, the one being written included
};

}  // namespace troupe::http
