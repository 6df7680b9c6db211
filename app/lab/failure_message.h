// How the lab words a failure that refused or ended a run, for the banner and the log: an allocation failure
// gets advice instead of "std::bad_alloc" (for a GPU, the sizes that fit in its memory), a full disk says so
// first, anything else is its own message.
#pragma once

#include <QString>
#include <exception>
#include <string>

namespace minimind {

// `gpu_advice`: for a GPU that ran out of memory (a DeviceOutOfMemory), what to change, from
// out_of_memory_advice (config/memory_preflight.h); empty when there is none to give.
QString failure_message(const std::exception& error, const std::string& gpu_advice = {});

}  // namespace minimind
