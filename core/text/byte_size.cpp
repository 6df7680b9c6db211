// Binary-unit formatting of byte counts.
#include "text/byte_size.h"

#include <cstdio>

namespace minimind {

std::string format_bytes(int64_t bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  constexpr int kLastUnit = 6;
  const bool negative = bytes < 0;
  // Through double: the magnitude of INT64_MIN does not fit int64, and one decimal needs no more precision.
  double value = negative ? -static_cast<double>(bytes) : static_cast<double>(bytes);
  int unit = 0;
  while (unit < kLastUnit) {
    // Rounding to one decimal could turn 1023.96 KiB into "1024.0 KiB": move up a unit before that happens.
    if (value < 1024 && (unit == 0 || value < 1023.95)) break;
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0)
    std::snprintf(text, sizeof text, "%s%.0f B", negative ? "-" : "", value);
  else
    std::snprintf(text, sizeof text, "%s%.1f %s", negative ? "-" : "", value, kUnits[unit]);
  return text;
}

}  // namespace minimind
