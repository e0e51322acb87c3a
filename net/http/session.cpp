#include "net/http/session.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>
#include <cctype>

#include "net/http/request_head.hpp"
#include "net/http/response_bytes.hpp"

namespace troupe::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

// Bytes read ahead while a request is being answered (a pipelining client); beyond this the
// session stops reading until the answer is written.
constexpr std::size_t kReadChunk = 4096;
constexpr std::size_t kHeaderLimit = 16 * 1024;
// The read buffer's bound: a head, and room for the body's chunk lines and Beast's reads.
constexpr std::size_t kReadBufferLimit = kHeaderLimit + 64 * 1024;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

RequestHead request_head(const bhttp::request<bhttp::string_body>& message) {
  RequestHead head;
  const auto method = message.method_string();
  head.method.assign(method.data(), method.size());
  const auto target = message.target();
  head.target.assign(target.data(), target.size());
  head.version = static_cast<int>(message.version());
  for (const auto& field : message) {
    const auto name = field.name_string();
    head.fields.emplace_back(lower({name.data(), name.size()}), std::string(field.value()));
  }
  return head;
}

bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

// The handler's side of one exchange: every call hops onto the session's strand. Once the
// session is gone, only on_disconnect does anything (it runs its callback at once).
class SessionSink final : public ResponseSink {
 public:
  SessionSink(std::weak_ptr<Session> session, uint64_t exchange)
      : session_(std::move(session)), exchange_(exchange) {}

  void respond(Response response) override {
    with_session([e = exchange_, r = std::move(response)](Session& s) mutable {
      s.respond(e, std::move(r));
    });
  }
  void start_stream(int status, std::string content_type, Headers headers) override {
    with_session([e = exchange_, status, c = std::move(content_type),
                  h = std::move(headers)](Session& s) mutable {
      s.start_stream(e, status, std::move(c), std::move(h));
    });
  }
  void write(std::string data) override {
    with_session([e = exchange_, d = std::move(data)](Session& s) mutable {
      s.write_chunk(e, std::move(d));
    });
  }
  void finish() override {
    with_session([e = exchange_](Session& s) { s.finish(e); });
  }
  void on_disconnect(std::function<void()> callback) override {
    auto session = session_.lock();
    if (!session) {
      callback();
      return;
    }
    session->post([e = exchange_, c = std::move(callback)](Session& s) mutable {
      s.on_disconnect(e, std::move(c));
    });
  }

 private:
  template <typename Work>
  void with_session(Work work) {
    if (auto session = session_.lock()) {
      session->post([w = std::make_shared<Work>(std::move(work))](Session& s) { (*w)(s); });
    }
  }
  std::weak_ptr<Session> session_;
  uint64_t exchange_;
};

}  // namespace

Session::Session(asio::ip::tcp::socket socket, const ServerConfig& config, Handler& handler,
                 const TransportEvents& events, std::shared_ptr<SessionCounts> counts)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      write_timer_(socket_.get_executor()),
      buffer_(kReadBufferLimit),
      config_(config),
      handler_(handler),
      events_(events),
      counts_(std::move(counts)) {
  events_.connections_changed(++counts_->open);
}

Session::~Session() {
  set_answer(Answer::none);
  events_.connections_changed(--counts_->open);
}

void Session::start() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;  // streamed tokens go out at once, not after Nagle's delay
    self->socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    // The kernel's buffer is bounded too (autotuned, it grows to megabytes for a client that
    // does not read), so what a stalled client holds is about three times --max-send-buffer.
    const auto bound = std::min<std::size_t>(self->config_.max_unsent_bytes, 1 << 30);
    self->socket_.set_option(asio::socket_base::send_buffer_size(static_cast<int>(bound)), ignored);
    self->arm_timer(Waiting::idle, self->config_.idle_timeout);
    self->read_more();
  });
}

void Session::refuse(int status, const std::string& message) {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this(), status, message] {
    self->fail_transport(status, message);
  });
}

void Session::post(std::function<void(Session&)> work) {
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), work = std::move(work)] { work(*self); });
}

// --- reading ---------------------------------------------------------------------------------

void Session::arm_timer(Waiting what, std::chrono::milliseconds after) {
  waiting_ = what;
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this(), what](beast::error_code ec) {
    if (!ec) self->on_timer(what);
  });
}

void Session::on_timer(Waiting what) {
  if (closed_ || what != waiting_) return;
  waiting_ = Waiting::nothing;
  if (what == Waiting::idle && !answering() && !parsing()) {
    close();
  } else if (what == Waiting::request && read_ == Read::parsing) {
    read_ = Read::parse_timed_out;
    socket_.cancel();  // no write is pending while a request is parsed
  }
}

// Reads whatever comes: the first bytes of the next request, or, while a request is answered,
// the end of the connection (a closed socket cancels the request).
void Session::read_more() {
  if (read_ != Read::idle || closed_) return;
  if (answering() && buffer_.size() > 0) return;  // a pipelined request waits its turn
  read_ = Read::watching;
  socket_.async_read_some(buffer_.prepare(kReadChunk),
                          [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                            self->on_read_some(ec, bytes);
                          });
}

void Session::on_read_some(beast::error_code ec, std::size_t bytes) {
  read_ = Read::idle;
  if (!ec) buffer_.commit(bytes);
  if (closed_) return;
  if (ec) {
    if (answering()) {
      disconnected();
    } else {
      close();
    }
    return;
  }
  if (answering()) {
    skip_blank_lines();
    read_more();
    return;
  }
  parse_request();
}

// RFC 9112 section 2.2: empty lines before a request line (a client's stray CRLF after a body)
// are ignored, so they neither start a request nor hold back the reading.
void Session::skip_blank_lines() {
  const auto data = buffer_.data();
  const auto* bytes = static_cast<const char*>(data.data());
  std::size_t blank = 0;
  while (blank < data.size() && (bytes[blank] == '\r' || bytes[blank] == '\n')) ++blank;
  buffer_.consume(blank);
}

void Session::parse_request() {
  skip_blank_lines();
  parser_.emplace();
  parser_->body_limit(config_.max_body_bytes);
  parser_->header_limit(kHeaderLimit);
  read_ = Read::parsing;
  arm_timer(Waiting::request, config_.request_timeout);
  bhttp::async_read_header(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

// The head is in: its framing and fields are checked before any of the body is read.
void Session::on_header(beast::error_code ec) {
  if (closed_) return;
  if (!ec && read_ == Read::parsing) {
    if (auto problem = check_request_head(request_head(parser_->get()))) {
      read_ = Read::idle;
      waiting_ = Waiting::nothing;
      timer_.cancel();
      return fail_transport(problem->status, problem->message);
    }
    bhttp::async_read(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_request(ec); });
    return;
  }
  on_request(ec);
}

void Session::on_request(beast::error_code ec) {
  const bool timed_out = read_ == Read::parse_timed_out;
  read_ = Read::idle;
  waiting_ = Waiting::nothing;
  timer_.cancel();
  if (closed_) return;
  if (timed_out) {
    fail_transport(408, "the request did not arrive within " +
                            std::to_string(config_.request_timeout.count()) + " ms");
  } else if (ec == bhttp::error::body_limit) {
    fail_transport(413, "the request body is larger than the server's limit of " +
                            std::to_string(config_.max_body_bytes) + " bytes (--max-body-bytes)");
  } else if (ec == bhttp::error::header_limit) {
    fail_transport(
        431, "the request headers are larger than " + std::to_string(kHeaderLimit) + " bytes");
  } else if (is_parse_error(ec)) {
    fail_transport(400, "malformed HTTP request: " + ec.message());
  } else if (ec) {
    close();  // the client went away mid-request
  } else {
    dispatch();
  }
}

void Session::dispatch() {
  auto& message = parser_->get();
  Request request;
  const auto method = message.method_string();
  request.method.assign(method.data(), method.size());
  const auto beast_target = message.target();
  // check_request_head has let only targets origin_form takes through.
  const std::string target =
      origin_form({beast_target.data(), beast_target.size()}).value_or(std::string("/"));
  const auto question = target.find('?');
  request.path = target.substr(0, question);
  if (question != std::string::npos) request.query = target.substr(question + 1);
  for (const auto& field : message) {
    const auto name = field.name_string();
    request.headers[lower({name.data(), name.size()})] = std::string(field.value());
  }
  request.body = std::move(message.body());
  beast::error_code ec;
  const auto endpoint = socket_.remote_endpoint(ec);
  if (!ec) request.remote = endpoint.address().to_string();
  keep_alive_ = message.keep_alive();
  head_request_ = message.method() == bhttp::verb::head;
  parser_.reset();

  ++exchange_;
  set_answer(Answer::awaited);
  disconnect_callback_ = nullptr;
  handler_.handle(std::move(request), std::make_shared<SessionSink>(weak_from_this(), exchange_));
  read_more();  // notices the client leaving while the answer is made
}

// --- answering -------------------------------------------------------------------------------

void Session::respond(uint64_t exchange, Response response) {
  if (closed_ || exchange != exchange_ || answer_ != Answer::awaited) return;
  complete_answer(response_bytes(response, keep_alive_, head_request_));
}

void Session::start_stream(uint64_t exchange, int status, std::string content_type,
                           Headers headers) {
  if (closed_ || exchange != exchange_ || answer_ != Answer::awaited) return;
  if (head_request_) {  // the head alone: the chunks would be taken for the next response
    complete_answer(stream_head_bytes(status, content_type, headers, keep_alive_));
    return;
  }
  set_answer(Answer::started);
  send(stream_head_bytes(status, content_type, headers, keep_alive_));
}

void Session::write_chunk(uint64_t exchange, std::string data) {
  if (closed_ || exchange != exchange_ || answer_ != Answer::started) return;
  if (unsent_bytes_ + data.size() > config_.max_unsent_bytes) {
    beast::error_code ec;
    const auto peer = socket_.remote_endpoint(ec);
    spdlog::warn(
        "http: {} has left {} bytes of its stream unread (--max-send-buffer {}); its request is "
        "aborted and the connection closed",
        ec ? std::string("a client") : peer.address().to_string(), unsent_bytes_,
        config_.max_unsent_bytes);
    return disconnected();
  }
  send(chunk_bytes(data));
}

void Session::finish(uint64_t exchange) {
  if (closed_ || exchange != exchange_ || answer_ != Answer::started) return;
  complete_answer(std::string(kLastChunk));
}

void Session::on_disconnect(uint64_t exchange, std::function<void()> callback) {
  if (exchange != exchange_ || !(answer_open() || answer_ == Answer::abandoned)) return;
  if (closed_) {
    callback();
  } else {
    disconnect_callback_ = std::move(callback);
  }
}

void Session::complete_answer(std::string bytes) {
  set_answer(Answer::complete);
  send(std::move(bytes));
}

void Session::set_answer(Answer answer) {
  const bool was_answering = answering();
  answer_ = answer;
  if (answering() == was_answering) return;
  if (answering()) {
    ++counts_->answering;
    answering_hold_ = shared_from_this();
  } else {
    --counts_->answering;
    // Let go on a later turn of the strand, never from under the caller's feet.
    asio::post(socket_.get_executor(), [hold = std::move(answering_hold_)] {});
  }
}

// The answer is on the wire: read the next request, or close.
void Session::end_exchange() {
  set_answer(Answer::none);
  disconnect_callback_ = nullptr;
  if (!keep_alive_) {
    close();
  } else if (buffer_.size() > 0 && read_ == Read::idle) {
    parse_request();
  } else {
    arm_timer(Waiting::idle, config_.idle_timeout);
    read_more();  // when the watch read is still pending, it delivers the next request
  }
}

void Session::fail_transport(int status, const std::string& message) {
  keep_alive_ = false;
  head_request_ = false;
  ++exchange_;  // no sink answers this one
  complete_answer(response_bytes(events_.transport_error(status, message), false));
}

// --- writing ---------------------------------------------------------------------------------

void Session::send(std::string bytes) {
  if (bytes.empty()) return;
  unsent_bytes_ += bytes.size();
  out_.push_back(std::move(bytes));
  if (out_.size() == 1) write_next();  // else a write is pending and goes on to these bytes
}

void Session::write_next() {
  if (closed_) return;
  if (out_.empty()) {
    if (answer_ == Answer::complete) end_exchange();
    return;
  }
  arm_write_timer();
  asio::async_write(socket_, asio::buffer(out_.front()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->write_timer_.cancel();
                      if (self->closed_) return;
                      if (ec) {
                        self->disconnected();
                        return;
                      }
                      self->unsent_bytes_ -= self->out_.front().size();
                      self->out_.pop_front();
                      self->write_next();
                    });
}

void Session::arm_write_timer() {
  write_timer_.expires_after(config_.idle_timeout);
  write_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->closed_) return;  // cancelled: the write went through
    spdlog::warn("http: a client took none of its answer for {} ms; the connection is closed",
                 self->config_.idle_timeout.count());
    self->disconnected();
  });
}

// --- ending ----------------------------------------------------------------------------------

void Session::disconnected() {
  auto callback = std::move(disconnect_callback_);
  disconnect_callback_ = nullptr;
  const bool unanswered = answer_open();
  close();
  if (callback && unanswered) callback();
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  set_answer(answer_open() ? Answer::abandoned : Answer::none);  // nothing more is written
  timer_.cancel();
  write_timer_.cancel();
  beast::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace troupe::http
