#pragma once
// The process's own resident memory and open file descriptors, read from /proc/self at the
// moment /metrics renders (as Prometheus's client libraries' process collector does). A soak
// test samples the same numbers.

namespace troupe::metrics {

struct ProcessSample {
  long long resident_bytes = -1;  // -1 where /proc cannot be read
  int open_fds = -1;
};

ProcessSample sample_process();

}  // namespace troupe::metrics
