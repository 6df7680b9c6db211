// safetensors reading and writing. The reader treats the file as untrusted: the header length, the JSON (its
// nesting capped), every entry's dtype, shape and offsets and the layout of the data section (no overlap, no
// byte after the last tensor) are all checked before any tensor byte is read, so a damaged or hostile file
// gives a SafetensorsError and nothing worse.
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include "io/atomic_file.h"
#include "io/strict_json.h"
#include "tensor/convert.h"

namespace minimind {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian and is copied as is; a big-endian host needs byte swaps");

using json = nlohmann::json;

// The limit of the reference implementation: no real header comes near it, and it bounds what a corrupt
// length field can make us allocate.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr uint64_t kLengthFieldBytes = 8;
constexpr std::string_view kMetadataKey = "__metadata__";

struct FileDType {
  std::string_view name;
  uint64_t bytes;
};

// Every dtype the format defines with a whole number of bytes per element; read() supports a subset.
constexpr std::array<FileDType, 15> kFileDTypes = {{{"F64", 8},
                                                    {"F32", 4},
                                                    {"F16", 2},
                                                    {"BF16", 2},
                                                    {"I64", 8},
                                                    {"I32", 4},
                                                    {"I16", 2},
                                                    {"I8", 1},
                                                    {"U8", 1},
                                                    {"BOOL", 1},
                                                    {"U16", 2},
                                                    {"U32", 4},
                                                    {"U64", 8},
                                                    {"F8_E4M3", 1},
                                                    {"F8_E5M2", 1}}};

std::optional<uint64_t> file_dtype_bytes(std::string_view name) {
  for (const FileDType& dtype : kFileDTypes)
    if (dtype.name == name) return dtype.bytes;
  return std::nullopt;
}

// The floating file dtypes and the tensor dtype each is held in before conversion.
std::optional<DType> floating_file_dtype(std::string_view name) {
  if (name == "F32") return DType::f32;
  if (name == "F64") return DType::f64;
  if (name == "BF16") return DType::bf16;
  if (name == "F16") return DType::f16;
  return std::nullopt;
}

std::optional<std::string_view> file_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::bf16:
      return "BF16";
    case DType::f16:
      return "F16";
    case DType::i32:
      return "I32";
    default:
      return std::nullopt;
  }
}

[[noreturn]] void file_error(const std::filesystem::path& path, const std::string& what) {
  throw SafetensorsError(path.string() + ": " + what);
}

[[noreturn]] void tensor_error(const std::filesystem::path& path, const std::string& name,
                               const std::string& what) {
  throw SafetensorsError(path.string() + ": " + what + " (tensor '" + name + "')");
}

uint64_t decode_length_field(const char* bytes) {
  uint64_t value = 0;
  std::memcpy(&value, bytes, sizeof value);
  return value;
}

// Checks the 8-byte header length against the file size; returns the size of the data section.
uint64_t check_layout(uint64_t file_bytes, uint64_t header_bytes, const std::filesystem::path& path) {
  if (header_bytes > kMaxHeaderBytes)
    file_error(path, "header length " + std::to_string(header_bytes) + " exceeds the limit of " +
                         std::to_string(kMaxHeaderBytes) + " bytes");
  if (header_bytes > file_bytes - kLengthFieldBytes)
    file_error(path, "header length " + std::to_string(header_bytes) + " runs past the end of the file (" +
                         std::to_string(file_bytes) + " bytes)");
  return file_bytes - kLengthFieldBytes - header_bytes;
}

void check_file_size(uint64_t file_bytes, const std::filesystem::path& path) {
  if (file_bytes < kLengthFieldBytes)
    file_error(path, "file is " + std::to_string(file_bytes) +
                         " bytes, too short to hold the 8-byte header length (truncated?)");
}

// Parses the header text, refusing duplicate keys in any object (a file whose meaning depends on the parser
// is better refused) and nesting past kMaxJsonNesting (a header nests 3 deep).
json parse_header_json(std::string_view header, const std::filesystem::path& path) {
  try {
    return parse_strict_json(header, kMaxJsonNesting);
  } catch (const StrictJsonError& error) {
    if (error.kind == StrictJsonError::Kind::too_deep) {
      const std::string what = std::string("header is not a safetensors header: ") + error.what();
      if (error.outer_key.empty()) file_error(path, what);
      tensor_error(path, error.outer_key, what);
    }
    if (error.depth == 1) tensor_error(path, error.key, "duplicate entry in the header");
    tensor_error(path, error.outer_key, "duplicate key '" + error.key + "' in the header");
  } catch (const json::exception& e) {
    file_error(path, std::string("header is not valid JSON: ") + e.what());
  }
}

// A JSON number that is a non-negative integer (not a float, however integral it looks).
std::optional<uint64_t> as_unsigned(const json& value) {
  if (!value.is_number_unsigned()) return std::nullopt;
  return value.get<uint64_t>();
}

const json& required_field(const json& entry, const char* field, const std::filesystem::path& path,
                           const std::string& name) {
  const auto it = entry.find(field);
  if (it == entry.end()) tensor_error(path, name, std::string("entry has no '") + field + "'");
  return *it;
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::filesystem::path& path) {
  if (!value.is_object()) file_error(path, "'__metadata__' is not an object of strings");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, text] : value.items()) {
    if (!text.is_string())
      file_error(
          path, "'__metadata__' value of key '" + key + "' is not a string but " + describe_json_value(text));
    metadata.emplace(key, text.get<std::string>());
  }
  return metadata;
}

SafetensorsEntry parse_entry(const std::string& name, const json& value, uint64_t data_bytes,
                             const std::filesystem::path& path) {
  if (!value.is_object())
    tensor_error(path, name, "entry is not an object but " + describe_json_value(value));
  SafetensorsEntry entry;
  entry.name = name;

  const json& dtype = required_field(value, "dtype", path, name);
  if (!dtype.is_string())
    tensor_error(path, name, "'dtype' is not a string but " + describe_json_value(dtype));
  entry.dtype = dtype.get<std::string>();
  const std::optional<uint64_t> element_bytes = file_dtype_bytes(entry.dtype);
  if (!element_bytes) tensor_error(path, name, "unknown dtype '" + entry.dtype + "'");

  const json& shape = required_field(value, "shape", path, name);
  if (!shape.is_array())
    tensor_error(path, name, "'shape' is not an array but " + describe_json_value(shape));
  // The product of the non-zero dimensions must fit in int64_t, so that every partial product does too.
  uint64_t nonzero_product = 1;
  bool has_zero = false;
  for (const json& dimension : shape) {
    const std::optional<uint64_t> size = as_unsigned(dimension);
    if (!size)
      tensor_error(path, name,
                   "'shape' entry " + describe_json_value(dimension) + " is not a non-negative integer");
    if (*size == 0) has_zero = true;
    if (*size != 0 && (__builtin_mul_overflow(nonzero_product, *size, &nonzero_product) ||
                       nonzero_product > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())))
      tensor_error(path, name,
                   "'shape' " + describe_json_value(shape) + " has more elements than fit in 64 bits");
    entry.shape.push_back(static_cast<int64_t>(*size));
  }
  const uint64_t numel = has_zero ? 0 : nonzero_product;

  const json& offsets = required_field(value, "data_offsets", path, name);
  const std::optional<uint64_t> begin =
      offsets.is_array() && offsets.size() == 2 ? as_unsigned(offsets[0]) : std::nullopt;
  const std::optional<uint64_t> end =
      offsets.is_array() && offsets.size() == 2 ? as_unsigned(offsets[1]) : std::nullopt;
  if (!begin || !end)
    tensor_error(
        path, name,
        "'data_offsets' " + describe_json_value(offsets) + " is not a pair of non-negative integers");
  const std::string offsets_text = "[" + std::to_string(*begin) + ", " + std::to_string(*end) + "]";
  if (*begin > *end) tensor_error(path, name, "'data_offsets' " + offsets_text + " begin after they end");
  if (*end > data_bytes)
    tensor_error(path, name,
                 "'data_offsets' " + offsets_text + " run past the data section of " +
                     std::to_string(data_bytes) + " bytes (out of bounds)");
  uint64_t expected_bytes = 0;
  const bool overflow = __builtin_mul_overflow(numel, *element_bytes, &expected_bytes);
  if (overflow || expected_bytes != *end - *begin)
    tensor_error(path, name,
                 "size mismatch: " + entry.dtype + " shape " + shape_string(entry.shape) + " needs " +
                     (overflow ? std::string("more than 2^64") : std::to_string(expected_bytes)) +
                     " bytes, 'data_offsets' " + offsets_text + " hold " + std::to_string(*end - *begin));
  entry.begin = *begin;
  entry.end = *end;
  return entry;
}

struct ParsedHeader {
  std::vector<SafetensorsEntry> entries;  // sorted by data offsets
  std::map<std::string, std::string> metadata;
};

ParsedHeader parse_header(std::string_view header, uint64_t data_bytes, const std::filesystem::path& path) {
  const json root = parse_header_json(header, path);
  if (!root.is_object()) file_error(path, "header is not a JSON object");
  ParsedHeader parsed;
  for (const auto& [name, value] : root.items()) {
    if (name == kMetadataKey)
      parsed.metadata = parse_metadata(value, path);
    else
      parsed.entries.push_back(parse_entry(name, value, data_bytes, path));
  }
  std::sort(parsed.entries.begin(), parsed.entries.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
              return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
            });
  // Sorted by begin, ranges are disjoint when each starts at or after the furthest end so far. Empty tensors
  // hold no bytes and overlap nothing.
  const SafetensorsEntry* furthest = nullptr;
  for (const SafetensorsEntry& entry : parsed.entries) {
    if (entry.begin == entry.end) continue;
    if (furthest && entry.begin < furthest->end)
      tensor_error(path, entry.name,
                   "data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                       "] overlap those of tensor '" + furthest->name + "' [" +
                       std::to_string(furthest->begin) + ", " + std::to_string(furthest->end) + "]");
    if (!furthest || entry.end > furthest->end) furthest = &entry;
  }
  // Bytes after the last tensor's data belong to no tensor (something appended, or a shorter file written
  // over a longer one without truncating it): the reference implementation refuses such a file, as this does.
  const uint64_t used_bytes = furthest ? furthest->end : 0;
  if (used_bytes < data_bytes)
    file_error(path,
               std::to_string(data_bytes - used_bytes) + " extra bytes after the last tensor's data (" +
                   (furthest ? "tensor '" + furthest->name + "' ends at byte " + std::to_string(used_bytes)
                             : std::string("no tensor holds data")) +
                   " of a data section of " + std::to_string(data_bytes) + " bytes)");
  return parsed;
}

// A file descriptor closed on scope exit.
class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::filesystem::path& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) file_error(path, std::string("cannot open: ") + std::strerror(errno));
  }
  ~ReadOnlyFile() { ::close(fd_); }
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  uint64_t regular_file_bytes() const {
    struct stat status {};
    if (::fstat(fd_, &status) != 0) file_error(path_, std::string("cannot stat: ") + std::strerror(errno));
    if (!S_ISREG(status.st_mode)) file_error(path_, "not a regular file");
    return static_cast<uint64_t>(status.st_size);
  }

  // Reads exactly `size` bytes at `offset`, retrying short and interrupted reads.
  void read_exactly(char* destination, uint64_t size, uint64_t offset) const {
    while (size > 0) {
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(size, uint64_t{1} << 30));
      const ssize_t got = ::pread(fd_, destination, chunk, static_cast<off_t>(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        file_error(path_, std::string("read failed: ") + std::strerror(errno));
      }
      if (got == 0) file_error(path_, "file ended early while reading (was it truncated meanwhile?)");
      destination += got;
      size -= static_cast<uint64_t>(got);
      offset += static_cast<uint64_t>(got);
    }
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  const ReadOnlyFile file(path);
  const uint64_t file_bytes = file.regular_file_bytes();
  check_file_size(file_bytes, path);
  std::array<char, kLengthFieldBytes> length_field{};
  file.read_exactly(length_field.data(), length_field.size(), 0);
  const uint64_t header_bytes = decode_length_field(length_field.data());
  const uint64_t data_bytes = check_layout(file_bytes, header_bytes, path);
  std::string header(header_bytes, '\0');
  file.read_exactly(header.data(), header_bytes, kLengthFieldBytes);
  ParsedHeader parsed = parse_header(header, data_bytes, path);

  // Only now, with every entry known to lie inside it, is the data section read: in one piece.
  auto data = std::make_shared<std::vector<char>>(data_bytes);
  file.read_exactly(data->data(), data_bytes, kLengthFieldBytes + header_bytes);

  SafetensorsFile result;
  result.path_ = path;
  result.entries_ = std::move(parsed.entries);
  result.metadata_ = std::move(parsed.metadata);
  result.data_ = std::move(data);
  return result;
}

SafetensorsFile SafetensorsFile::parse(std::vector<char> bytes, const std::filesystem::path& path) {
  check_file_size(bytes.size(), path);
  const uint64_t header_bytes = decode_length_field(bytes.data());
  const uint64_t data_bytes = check_layout(bytes.size(), header_bytes, path);
  ParsedHeader parsed =
      parse_header(std::string_view(bytes.data() + kLengthFieldBytes, header_bytes), data_bytes, path);
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(kLengthFieldBytes + header_bytes));

  SafetensorsFile result;
  result.path_ = path;
  result.entries_ = std::move(parsed.entries);
  result.metadata_ = std::move(parsed.metadata);
  result.data_ = std::make_shared<const std::vector<char>>(std::move(bytes));
  return result;
}

bool SafetensorsFile::contains(const std::string& name) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const SafetensorsEntry& e) { return e.name == name; });
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  for (const SafetensorsEntry& e : entries_)
    if (e.name == name) return e;
  tensor_error(path_, name, "no such tensor in the file (" + std::to_string(entries_.size()) + " tensors)");
}

Tensor SafetensorsFile::read(const std::string& name, DType as) const {
  const SafetensorsEntry& e = entry(name);
  const char* bytes = data_->data() + e.begin;
  const size_t size = static_cast<size_t>(e.end - e.begin);
  const std::string requested(dtype_name(as));

  if (const std::optional<DType> stored = floating_file_dtype(e.dtype)) {
    if (as != DType::f32 && as != DType::f64)
      tensor_error(
          path_, name,
          "cannot read " + e.dtype + " data as " + requested + " (floating tensors read as f32 or f64)");
    Tensor raw = Tensor::empty(e.shape, *stored);
    if (size) std::memcpy(raw.raw(), bytes, size);
    return *stored == as ? raw : convert_dtype(raw, as);
  }
  if (e.dtype == "I32" || e.dtype == "I64") {
    if (as != DType::i32)
      tensor_error(path_, name,
                   "cannot read " + e.dtype + " data as " + requested + " (integer tensors read as i32)");
    Tensor result = Tensor::empty(e.shape, DType::i32);
    if (e.dtype == "I32") {
      if (size) std::memcpy(result.raw(), bytes, size);
      return result;
    }
    int32_t* out = result.data<int32_t>();
    for (int64_t i = 0; i < result.numel(); ++i) {
      int64_t value = 0;
      std::memcpy(&value, bytes + static_cast<size_t>(i) * sizeof value, sizeof value);
      if (value < std::numeric_limits<int32_t>::min() || value > std::numeric_limits<int32_t>::max())
        tensor_error(
            path_, name,
            "I64 element " + std::to_string(i) + " = " + std::to_string(value) + " is outside the i32 range");
      out[i] = static_cast<int32_t>(value);
    }
    return result;
  }
  tensor_error(path_, name,
               "reading dtype " + e.dtype +
                   " is not supported (F64, F32, BF16 and F16 read as f32 or f64; I64 and I32 as i32)");
}

void save_safetensors(const std::filesystem::path& path, std::span<const NamedTensor> tensors,
                      const std::map<std::string, std::string>& metadata) {
  auto argument_error = [&](const std::string& name, const std::string& what) {
    return std::invalid_argument("save_safetensors: " + path.string() + ": " + what + " (tensor '" + name +
                                 "')");
  };
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[std::string(kMetadataKey)] = metadata;
  std::set<std::string_view> names;
  uint64_t offset = 0;
  for (const NamedTensor& named : tensors) {
    const Tensor& t = named.tensor;
    if (named.name == kMetadataKey) throw argument_error(named.name, "the name is reserved for metadata");
    if (!names.insert(named.name).second) throw argument_error(named.name, "duplicate tensor name");
    if (!t.defined()) throw argument_error(named.name, "the tensor is undefined");
    if (t.device() != Device::cpu) throw argument_error(named.name, "not a host tensor: " + t.describe());
    const std::optional<std::string_view> dtype = file_dtype_name(t.dtype());
    if (!dtype)
      throw argument_error(named.name, "cannot write " + t.describe() + " (f32, f64, bf16, f16 or i32)");
    header[named.name] = {
        {"dtype", *dtype}, {"shape", t.shape()}, {"data_offsets", {offset, offset + t.bytes()}}};
    offset += t.bytes();
  }

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("save_safetensors: " + path.string() +
                                ": a tensor name or metadata string is not valid UTF-8 (" + e.what() + ")");
  }
  // Pad with spaces to a multiple of 8 so the data section starts aligned, as the reference writer does.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  write_file_atomically(path, [&](std::ostream& out) {
    const uint64_t header_bytes = header_text.size();
    char length_field[kLengthFieldBytes];
    std::memcpy(length_field, &header_bytes, sizeof length_field);
    out.write(length_field, sizeof length_field);
    out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
    for (const NamedTensor& named : tensors)
      out.write(static_cast<const char*>(named.tensor.raw()),
                static_cast<std::streamsize>(named.tensor.bytes()));
  });
}

}  // namespace minimind
