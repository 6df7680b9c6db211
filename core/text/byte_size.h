// Sizes in memory and on disk as people read them: binary units (B, KiB, MiB, GiB, TiB, PiB, EiB), one
// decimal. Every place that shows a size (the CLI's messages, the lab's cost panel and memory readouts) uses
// this one function, so the same number reads the same everywhere.
#pragma once

#include <cstdint>
#include <string>

namespace minimind {

// "512 B", "1.5 KiB", "3.8 TiB": the largest unit that keeps the value at or above 1, so a value never
// shows as 1024.0 of a unit. Negative sizes keep their sign ("-2.0 MiB").
std::string format_bytes(int64_t bytes);

}  // namespace minimind
