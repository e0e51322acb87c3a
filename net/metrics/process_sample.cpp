#include "net/metrics/process_sample.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace troupe::metrics {

ProcessSample sample_process() {
  ProcessSample sample;
  std::ifstream statm("/proc/self/statm");  // sizes in pages: total, resident, ...
  long long pages = 0, resident = 0;
  if (statm >> pages >> resident) {
    sample.resident_bytes = resident * static_cast<long long>(::sysconf(_SC_PAGESIZE));
  }
  std::error_code ec;
  int fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++fds;
  }
  if (!ec) sample.open_fds = fds - 1;  // the directory's own descriptor, open while counting
  return sample;
}

}  // namespace troupe::metrics
