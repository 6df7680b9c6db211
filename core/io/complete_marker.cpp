// The COMPLETE marker: a small JSON file {"format", "format_version", "step", "files": [{"name", "bytes",
// "crc32c"}]}, written through an atomic rename after every file it lists is on the disk.
#include "io/complete_marker.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/atomic_file.h"
#include "io/crc32c.h"
#include "io/strict_json.h"

namespace minimind {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kMarkerFormat = "minimind-checkpoint";

std::string hex32(uint32_t value) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", value);
  return text;
}

// A field of the marker, with an error naming the marker and the field.
template <typename T>
T field(const json& object, const char* name, const fs::path& marker) {
  try {
    return object.at(name).get<T>();
  } catch (const json::exception& error) {
    throw CheckpointError("checkpoint file " + marker.string() + ": field '" + name +
                          "' is missing or mistyped: " + error.what());
  }
}

json read_marker(const fs::path& marker) {
  std::ifstream in(marker, std::ios::binary);
  if (!in) throw CheckpointError("checkpoint file " + marker.string() + " is missing or unreadable");
  std::ostringstream text;
  text << in.rdbuf();
  json parsed;
  try {
    parsed = parse_json_document(text.str(), "checkpoint file " + marker.string());
  } catch (const JsonDocumentError& error) {  // not JSON, a duplicate key, too deep
    throw CheckpointError(error.what());
  }
  if (!parsed.is_object())
    throw CheckpointError("checkpoint file " + marker.string() + " is not a JSON object");
  const auto format = field<std::string>(parsed, "format", marker);
  if (format != kMarkerFormat)
    throw CheckpointError("checkpoint file " + marker.string() + ": format '" + format + "', expected '" +
                          kMarkerFormat + "'");
  const auto version = field<int>(parsed, "format_version", marker);
  if (version != kCheckpointFormatVersion)
    throw CheckpointError("checkpoint file " + marker.string() + ": format version " +
                          std::to_string(version) + ", this build reads version " +
                          std::to_string(kCheckpointFormatVersion));
  return parsed;
}

}  // namespace

FileDigest digest_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError("checkpoint file " + path.string() + " is missing or unreadable");
  FileDigest digest;
  std::vector<char> chunk(size_t{1} << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto count = static_cast<size_t>(in.gcount());
    digest.crc32c = crc32c(chunk.data(), count, digest.crc32c);
    digest.bytes += count;
  }
  if (in.bad()) throw CheckpointError("checkpoint file " + path.string() + ": read error");
  return digest;
}

void write_complete_marker(const fs::path& directory, const std::vector<std::string>& files, int64_t step) {
  json listed = json::array();
  for (const std::string& file : files) {
    const FileDigest digest = digest_file(directory / file);
    listed.push_back({{"name", file}, {"bytes", digest.bytes}, {"crc32c", hex32(digest.crc32c)}});
  }
  const json marker = {{"format", kMarkerFormat},
                       {"format_version", kCheckpointFormatVersion},
                       {"step", step},
                       {"files", listed}};
  const std::string text = marker.dump(2) + "\n";
  write_file_atomically(directory / kCompleteMarkerName, std::span<const char>(text.data(), text.size()));
}

bool has_complete_marker(const fs::path& directory) {
  std::error_code error;
  return fs::exists(directory / kCompleteMarkerName, error);
}

void verify_complete_marker(const fs::path& directory, const std::vector<std::string>& files) {
  if (!fs::is_directory(directory))
    throw CheckpointError("checkpoint " + directory.string() + " does not exist or is not a directory");
  const fs::path marker_path = directory / kCompleteMarkerName;
  if (!fs::exists(marker_path))
    throw CheckpointError("checkpoint " + directory.string() + " is incomplete: it has no " +
                          kCompleteMarkerName + " marker (the write did not finish)");
  const json marker = read_marker(marker_path);
  const json entries = marker.value("files", json());
  if (!entries.is_array())
    throw CheckpointError("checkpoint file " + marker_path.string() + ": no 'files' list");

  std::map<std::string, FileDigest> recorded;
  for (const json& entry : entries) {
    const auto name = field<std::string>(entry, "name", marker_path);
    const auto bytes = field<uint64_t>(entry, "bytes", marker_path);
    const auto crc = field<std::string>(entry, "crc32c", marker_path);
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      throw CheckpointError("checkpoint file " + marker_path.string() + ": bad file name '" + name + "'");
    uint32_t crc_value = 0;
    if (crc.size() != 8 || std::sscanf(crc.c_str(), "%8x", &crc_value) != 1 || hex32(crc_value) != crc)
      throw CheckpointError("checkpoint file " + marker_path.string() + ": '" + name + "' has the CRC-32C '" +
                            crc + "', expected 8 lowercase hexadecimal digits");
    if (!recorded.emplace(name, FileDigest{bytes, crc_value}).second)
      throw CheckpointError("checkpoint file " + marker_path.string() + " lists '" + name + "' twice");
  }

  for (const std::string& name : files) {
    const auto found = recorded.find(name);
    if (found == recorded.end())
      throw CheckpointError("checkpoint file " + marker_path.string() + " does not list " + name);
    const FileDigest& expected = found->second;
    const fs::path path = directory / name;
    const FileDigest digest = digest_file(path);
    if (digest.bytes != expected.bytes)
      throw CheckpointError("checkpoint file " + path.string() + " is " + std::to_string(digest.bytes) +
                            " bytes, the marker records " + std::to_string(expected.bytes) +
                            (digest.bytes < expected.bytes ? " (truncated)" : ""));
    if (digest.crc32c != expected.crc32c)
      throw CheckpointError("checkpoint file " + path.string() + " is corrupt: CRC-32C " +
                            hex32(digest.crc32c) + ", the marker records " + hex32(expected.crc32c));
  }
}

}  // namespace minimind
