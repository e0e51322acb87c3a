#pragma once
// A front drains a replica through the pod's preStop hook: `troupe drain`, run by the kubelet
// inside the replica's container, so in the replica's PID namespace. Once the drain ends the
// replica exits, and the exit of a namespace's first process kills every other process in it:
// a hook still on its way out (a cold start of the CLI on a loaded node takes seconds) would be
// killed and Kubernetes would record it as failed. So a drained first process waits, for a
// bounded time, until it is the only one left.
#include <chrono>
#include <filesystem>

namespace troupe {

// How many processes `proc` (a /proc) lists that have not ended (zombies have), other than
// `self` and its own children (a tensor-parallel group's rank processes: they stop with it).
int other_live_processes(const std::filesystem::path& proc, int self);

// When this process is the first of its PID namespace (a container's main process), waits until
// no other live process is left in it, or `bound` has passed; elsewhere returns at once.
// Returns false only when the bound passed with other processes still running.
bool outlive_namespace_peers(std::chrono::milliseconds bound);

}  // namespace troupe
