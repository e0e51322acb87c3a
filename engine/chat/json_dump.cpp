#include "engine/chat/json_dump.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/chat/py_format.hpp"
#include "engine/chat/unicode_text.hpp"

namespace troupe::chat {
namespace {

void append_json_string(std::string& out, std::string_view text, bool ensure_ascii) {
  out.push_back('"');
  char buf[16];
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const char32_t cp = decode_lenient(text, pos);
    switch (cp) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (cp < 0x20) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else if (ensure_ascii && cp >= 0x80) {
      if (cp >= 0x10000) {  // surrogate pair, as Python writes it
        const char32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 | (v >> 10)),
                      static_cast<unsigned>(0xDC00 | (v & 0x3FF)));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      }
      out += buf;
    } else {
      out.append(text.substr(start, pos - start));
    }
  }
  out.push_back('"');
}

class JsonWriter {
 public:
  JsonWriter(RenderBudget& budget, const JsonOptions& options)
      : budget_(budget), options_(options) {}

  Status write(const Value& v, size_t level) {
    if (Status s = budget_.check_string(out_.size()); !s.ok()) return s;
    switch (v.kind()) {
      case Value::Kind::kNone:
        out_ += "null";
        return Ok{};
      case Value::Kind::kBool:
        out_ += v.as_bool() ? "true" : "false";
        return Ok{};
      case Value::Kind::kInt:
        out_ += std::to_string(v.as_int());
        return Ok{};
      case Value::Kind::kFloat: {
        const double f = v.as_float();
        out_ += std::isnan(f)   ? "NaN"
                : std::isinf(f) ? (f < 0 ? "-Infinity" : "Infinity")
                                : format_py_float(f);
        return Ok{};
      }
      case Value::Kind::kString:
        append_json_string(out_, v.as_string(), options_.ensure_ascii);
        return Ok{};
      case Value::Kind::kArray:
        return write_array(v, level);
      case Value::Kind::kObject:
        if (!v.is_namespace()) return write_object(v, level);
        break;
      default:
        break;
    }
    return make_error("Object of type " + py_type_name(v) + " is not JSON serializable");
  }

  std::string take() { return std::move(out_); }

 private:
  void newline(size_t level) {
    if (!options_.indent) return;
    out_.push_back('\n');
    for (size_t i = 0; i < level; ++i) out_ += *options_.indent;
  }

  Status write_array(const Value& v, size_t level) {
    if (v.items().empty()) {
      out_ += "[]";
      return Ok{};
    }
    out_.push_back('[');
    for (size_t i = 0; i < v.items().size(); ++i) {
      if (i > 0) out_ += options_.item_separator;
      newline(level + 1);
      if (Status s = write(v.items()[i], level + 1); !s.ok()) return s;
    }
    newline(level);
    out_.push_back(']');
    return Ok{};
  }

  Status write_object(const Value& v, size_t level) {
    if (v.entries().empty()) {
      out_ += "{}";
      return Ok{};
    }
    std::vector<const std::pair<std::string, Value>*> entries;
    for (const auto& entry : v.entries()) entries.push_back(&entry);
    if (options_.sort_keys)
      std::stable_sort(entries.begin(), entries.end(),
                       [](auto* a, auto* b) { return a->first < b->first; });
    out_.push_back('{');
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) out_ += options_.item_separator;
      newline(level + 1);
      append_json_string(out_, entries[i]->first, options_.ensure_ascii);
      out_ += options_.key_separator;
      if (Status s = write(entries[i]->second, level + 1); !s.ok()) return s;
    }
    newline(level);
    out_.push_back('}');
    return Ok{};
  }

  RenderBudget& budget_;
  const JsonOptions& options_;
  std::string out_;
};

}  // namespace

Result<std::string> dump_json(RenderBudget& budget, const Value& value,
                              const JsonOptions& options) {
  JsonWriter writer(budget, options);
  if (Status s = writer.write(value, 0); !s.ok()) return s.error();
  std::string out = writer.take();
  if (Status s = budget.check_string(out.size()); !s.ok()) return s.error();
  return out;
}

}  // namespace troupe::chat
