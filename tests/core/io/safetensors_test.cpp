// safetensors reading and writing. References: files built byte by byte here following the layout the
// reference (Rust / Python) library writes, exact values for lossless dtypes, the scalar conversions of
// tensor/convert.h for bf16 / f16, and the expected error message for each kind of damage.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "support/file_contents.h"
#include "support/scratch_directory.h"
#include "tensor/convert.h"

namespace minimind {
namespace {

// A file image: little-endian header length, the header text padded with spaces to a multiple of 8 (as the
// reference writer does), then the data section.
std::vector<char> file_image(std::string header, const std::vector<char>& data, bool pad = true) {
  if (pad) header.append((8 - header.size() % 8) % 8, ' ');
  const uint64_t length = header.size();
  std::vector<char> bytes(8 + header.size() + data.size());
  std::memcpy(bytes.data(), &length, 8);
  std::copy(header.begin(), header.end(), bytes.begin() + 8);
  std::copy(data.begin(), data.end(), bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header.size()));
  return bytes;
}

template <typename T>
void append_values(std::vector<char>& data, std::initializer_list<T> values) {
  for (const T value : values) {
    const char* bytes = reinterpret_cast<const char*>(&value);
    data.insert(data.end(), bytes, bytes + sizeof value);
  }
}

// Runs `parse` on the image and returns the SafetensorsError message ("" if it parsed).
std::string parse_error(const std::vector<char>& bytes) {
  try {
    SafetensorsFile::parse(bytes, "damaged.safetensors");
  } catch (const SafetensorsError& e) {
    return e.what();
  }
  return "";
}

// A header with one F32 tensor "w" of shape [2] and the given fields, over 8 bytes of data.
std::string one_entry(const std::string& dtype, const std::string& shape, const std::string& offsets) {
  return R"({"w":{"dtype":)" + dtype + R"(,"shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}";
}

TEST(Safetensors, RoundTripsEveryDtypeWithMetadata) {
  ScratchDirectory directory;
  const auto path = directory / "model.safetensors";

  Tensor f32 = Tensor::empty({2, 3}, DType::f32);
  for (int i = 0; i < 6; ++i) f32.data<float>()[i] = 0.1f * static_cast<float>(i) - 0.25f;
  Tensor f64 = Tensor::empty({3}, DType::f64);
  f64.data<double>()[0] = 1.0 / 3.0;
  f64.data<double>()[1] = -1e300;
  f64.data<double>()[2] = 5e-324;
  Tensor bf16 = Tensor::empty({2, 2}, DType::bf16);
  Tensor f16 = Tensor::empty({4}, DType::f16);
  const std::vector<float> narrow_values = {1.0f, -3.5f, 0.1f, 65504.0f};
  for (int i = 0; i < 4; ++i) {
    static_cast<uint16_t*>(bf16.raw())[i] = float_to_bf16(narrow_values[i]);
    static_cast<uint16_t*>(f16.raw())[i] = float_to_f16(narrow_values[i]);
  }
  Tensor i32 = Tensor::empty({5}, DType::i32);
  for (int i = 0; i < 5; ++i) i32.data<int32_t>()[i] = (i - 2) * 1000003;
  const Tensor scalar = Tensor::zeros({}, DType::f32);
  const Tensor empty = Tensor::empty({0, 7}, DType::f32);

  const std::vector<NamedTensor> tensors = {{"model.layers.0.weight", f32},
                                            {"double", f64},
                                            {"brain", bf16},
                                            {"half", f16},
                                            {"ids", i32},
                                            {"scalar", scalar},
                                            {"empty", empty}};
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"step", "120"}};
  save_safetensors(path, tensors, metadata);

  // The layout: a header padded with spaces to a multiple of 8, entries in the given order.
  const std::string image = read_file(path);
  const std::vector<char> bytes(image.begin(), image.end());
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  EXPECT_EQ(header_length % 8, 0u);
  const std::string header(bytes.data() + 8, header_length);
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));
  EXPECT_LT(header.find("__metadata__"), header.find("model.layers.0.weight"));
  EXPECT_LT(header.find("model.layers.0.weight"), header.find("double"));
  EXPECT_LT(header.find("ids"), header.find("scalar"));
  EXPECT_EQ(directory.file_names(), std::vector<std::string>{"model.safetensors"});

  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata(), metadata);
  ASSERT_EQ(file.entries().size(), tensors.size());
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {  // contiguous offsets in the given order
    const SafetensorsEntry& entry = file.entries()[i];
    EXPECT_EQ(entry.name, tensors[i].name);
    EXPECT_EQ(entry.shape, tensors[i].tensor.shape());
    EXPECT_EQ(entry.begin, offset);
    offset += tensors[i].tensor.bytes();
    EXPECT_EQ(entry.end, offset);
  }
  EXPECT_EQ(bytes.size(), 8 + header_length + offset);
  EXPECT_EQ(file.entry("model.layers.0.weight").dtype, "F32");
  EXPECT_EQ(file.entry("double").dtype, "F64");
  EXPECT_EQ(file.entry("brain").dtype, "BF16");
  EXPECT_EQ(file.entry("half").dtype, "F16");
  EXPECT_EQ(file.entry("ids").dtype, "I32");
  EXPECT_TRUE(file.contains("ids"));
  EXPECT_FALSE(file.contains("idz"));

  const Tensor f32_back = file.read("model.layers.0.weight", DType::f32);
  EXPECT_EQ(f32_back.shape(), (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(f32_back.data<float>()[i], f32.data<float>()[i]);
  const Tensor f64_back = file.read("double", DType::f64);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f64_back.data<double>()[i], f64.data<double>()[i]);
  const Tensor bf16_back = file.read("brain", DType::f32);
  const Tensor f16_back = file.read("half", DType::f64);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(bf16_back.data<float>()[i], bf16_to_float(float_to_bf16(narrow_values[i])));
    EXPECT_EQ(f16_back.data<double>()[i], f16_to_float(float_to_f16(narrow_values[i])));
  }
  const Tensor ids_back = file.read("ids", DType::i32);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ids_back.data<int32_t>()[i], i32.data<int32_t>()[i]);
  EXPECT_EQ(file.read("scalar", DType::f32).shape(), Shape{});
  EXPECT_EQ(file.read("scalar", DType::f32).data<float>()[0], 0.0f);
  EXPECT_EQ(file.read("empty", DType::f64).shape(), (Shape{0, 7}));

  // Cross-width reads: f32 widens exactly, f64 narrows as a cast does.
  const Tensor f32_as_f64 = file.read("model.layers.0.weight", DType::f64);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(f32_as_f64.data<double>()[i], static_cast<double>(f32.data<float>()[i]));
  const Tensor f64_as_f32 = file.read("double", DType::f32);
  EXPECT_EQ(f64_as_f32.data<float>()[0], static_cast<float>(1.0 / 3.0));
  EXPECT_EQ(f64_as_f32.data<float>()[1], -std::numeric_limits<float>::infinity());

  // Reading the same bytes from memory gives the same file.
  const SafetensorsFile from_memory = SafetensorsFile::parse(bytes, path);
  EXPECT_EQ(from_memory.entries().size(), tensors.size());
  EXPECT_EQ(from_memory.read("ids", DType::i32).data<int32_t>()[4], 2 * 1000003);
}

TEST(Safetensors, OverwritingKeepsNoTemporaryFiles) {
  ScratchDirectory directory;
  const auto path = directory / "a.safetensors";
  Tensor t = Tensor::zeros({3}, DType::f32);
  save_safetensors(path, std::vector<NamedTensor>{{"x", t}});
  t.data<float>()[1] = 2.0f;
  save_safetensors(path, std::vector<NamedTensor>{{"x", t}, {"y", t}});
  EXPECT_EQ(directory.file_names(), std::vector<std::string>{"a.safetensors"});
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.entries().size(), 2u);
  EXPECT_TRUE(file.metadata().empty());
  EXPECT_EQ(file.read("y", DType::f32).data<float>()[1], 2.0f);
}

TEST(Safetensors, ReadsAFileLaidOutByTheReferenceWriter) {
  // As the Python library writes a PyTorch state dict: compact JSON, metadata first, data ordered by the
  // writer (here not by name), header padded with spaces.
  std::vector<char> data;
  append_values<float>(data, {0.5f, -1.25f});                       // b.bias    [0, 8)
  append_values<uint16_t>(data, {0x3F80, 0xC040, 0x0000, 0x7F80});  // a.weight  [8, 16)  bf16
  append_values<int64_t>(data, {3, -7, 2147483647});                // ids       [16, 40)
  append_values<uint16_t>(data, {0x3C00, 0x0001, 0xFBFF});          // h         [40, 46) f16
  append_values<int64_t>(data, {int64_t{1} << 40});                 // big       [46, 54)
  append_values<uint8_t>(data, {1, 2});                             // bytes     [54, 56)
  const std::string header = R"({"__metadata__":{"format":"pt"},)"
                             R"("a.weight":{"dtype":"BF16","shape":[2,2],"data_offsets":[8,16]},)"
                             R"("b.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("big":{"dtype":"I64","shape":[1],"data_offsets":[46,54]},)"
                             R"("bytes":{"dtype":"U8","shape":[2],"data_offsets":[54,56]},)"
                             R"("h":{"dtype":"F16","shape":[3],"data_offsets":[40,46]},)"
                             R"("ids":{"dtype":"I64","shape":[3],"data_offsets":[16,40]}})";
  ScratchDirectory directory;
  const auto path = directory / "pytorch_model.safetensors";
  const std::vector<char> image = file_image(header, data);
  write_file(path, {image.data(), image.size()});

  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  std::vector<std::string> order;
  for (const SafetensorsEntry& entry : file.entries()) order.push_back(entry.name);
  EXPECT_EQ(order, (std::vector<std::string>{"b.bias", "a.weight", "ids", "h", "big", "bytes"}));

  const Tensor bias = file.read("b.bias", DType::f32);
  EXPECT_EQ(bias.data<float>()[0], 0.5f);
  EXPECT_EQ(bias.data<float>()[1], -1.25f);
  const Tensor weight = file.read("a.weight", DType::f32);
  EXPECT_EQ(weight.shape(), (Shape{2, 2}));
  EXPECT_EQ(weight.data<float>()[0], 1.0f);
  EXPECT_EQ(weight.data<float>()[1], -3.0f);
  EXPECT_EQ(weight.data<float>()[3], std::numeric_limits<float>::infinity());
  const Tensor ids = file.read("ids", DType::i32);
  EXPECT_EQ(ids.data<int32_t>()[1], -7);
  EXPECT_EQ(ids.data<int32_t>()[2], 2147483647);
  const Tensor half = file.read("h", DType::f64);  // read at an offset that is not 4-aligned
  EXPECT_EQ(half.data<double>()[0], 1.0);
  EXPECT_EQ(half.data<double>()[1], std::ldexp(1.0, -24));
  EXPECT_EQ(half.data<double>()[2], -65504.0);

  auto expect_read_error = [&](const std::string& name, DType as, const std::string& problem) {
    try {
      file.read(name, as);
      ADD_FAILURE() << "no exception reading " << name;
    } catch (const SafetensorsError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path.string() + ": "), std::string::npos) << message;
      EXPECT_NE(message.find(problem), std::string::npos) << message;
      EXPECT_NE(message.find("(tensor '" + name + "')"), std::string::npos) << message;
    }
  };
  expect_read_error("big", DType::i32, "outside the i32 range");
  expect_read_error("bytes", DType::i32, "dtype U8 is not supported");
  expect_read_error("b.bias", DType::i32, "cannot read F32 data as i32");
  expect_read_error("ids", DType::f32, "cannot read I64 data as f32");
  expect_read_error("b.bias", DType::bf16, "cannot read F32 data as bf16");
  expect_read_error("missing.weight", DType::f32, "no such tensor");
}

TEST(Safetensors, UnpaddedHeadersAndEmptyFilesAreFine) {
  std::vector<char> data;
  append_values<int32_t>(data, {-5});
  const SafetensorsFile file = SafetensorsFile::parse(
      file_image(R"({"x":{"dtype":"I32","shape":[],"data_offsets":[0,4]}})", data, false), "memory");
  EXPECT_EQ(file.read("x", DType::i32).data<int32_t>()[0], -5);
  EXPECT_TRUE(SafetensorsFile::parse(file_image("{}", {}), "memory").entries().empty());
}

struct MalformedCase {
  const char* description;
  std::vector<char> bytes;
  std::string problem;  // a fragment the message must contain
  std::string tensor;   // the tensor the message must name, if any
};

TEST(Safetensors, EveryKindOfDamageIsReportedWithItsCause) {
  const std::vector<char> eight_bytes(8, '\0');
  std::vector<char> overlong = file_image("{}", {});
  overlong[0] = 100;  // header length 100, but only 8 bytes follow
  std::vector<char> huge = file_image("{}", {});
  huge[5] = 1;  // header length 2^40

  const std::vector<MalformedCase> cases = {
      {"truncated length field", {'\x10', 0, 0, 0, 0}, "too short to hold the 8-byte header length", ""},
      {"empty file", {}, "file is 0 bytes", ""},
      {"header longer than the file", overlong, "header length 100 runs past the end of the file", ""},
      {"header length above the cap", huge, "exceeds the limit", ""},
      {"bad JSON", file_image(R"({"w":{"dtype":"F32",)", eight_bytes), "header is not valid JSON", ""},
      {"invalid UTF-8", file_image("{\"w\xff\":{}}", eight_bytes), "header is not valid JSON", ""},
      {"header not an object", file_image("[1,2]", eight_bytes), "header is not a JSON object", ""},
      {"unknown dtype", file_image(one_entry(R"("F33")", "[2]", "[0,8]"), eight_bytes), "unknown dtype 'F33'",
       "w"},
      {"dtype not a string", file_image(one_entry("4", "[2]", "[0,8]"), eight_bytes),
       "'dtype' is not a string", "w"},
      {"negative shape", file_image(one_entry(R"("F32")", "[-2]", "[0,8]"), eight_bytes),
       "'shape' entry -2 is not a non-negative integer", "w"},
      {"fractional shape", file_image(one_entry(R"("F32")", "[2.0]", "[0,8]"), eight_bytes),
       "'shape' entry 2.0 is not a non-negative integer", "w"},
      {"string shape", file_image(one_entry(R"("F32")", R"(["2"])", "[0,8]"), eight_bytes),
       "is not a non-negative integer", "w"},
      {"shape not an array", file_image(one_entry(R"("F32")", "2", "[0,8]"), eight_bytes),
       "'shape' is not an array", "w"},
      {"shape overflowing 64 bits",
       file_image(one_entry(R"("F32")", "[4294967296,4294967296]", "[0,8]"), eight_bytes),
       "more elements than fit in 64 bits", "w"},
      {"offsets out of bounds", file_image(one_entry(R"("F32")", "[2]", "[8,16]"), eight_bytes),
       "out of bounds", "w"},
      {"offsets reversed", file_image(one_entry(R"("F32")", "[2]", "[8,0]"), eight_bytes),
       "begin after they end", "w"},
      {"offsets not a pair", file_image(one_entry(R"("F32")", "[2]", "[0]"), eight_bytes),
       "is not a pair of non-negative integers", "w"},
      {"negative offset", file_image(one_entry(R"("F32")", "[2]", "[-8,0]"), eight_bytes),
       "is not a pair of non-negative integers", "w"},
      {"size mismatch", file_image(one_entry(R"("F32")", "[3]", "[0,8]"), eight_bytes), "size mismatch", "w"},
      {"missing field", file_image(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", eight_bytes),
       "entry has no 'shape'", "w"},
      {"entry not an object", file_image(R"({"w":[1]})", eight_bytes), "entry is not an object", "w"},
      {"overlapping tensors",
       file_image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                  std::vector<char>(12)),
       "overlap those of tensor 'a' [0, 8]", "b"},
      {"metadata value not a string", file_image(R"({"__metadata__":{"step":12}})", {}),
       "'__metadata__' value of key 'step' is not a string", ""},
      {"metadata not an object", file_image(R"({"__metadata__":"pt"})", {}),
       "'__metadata__' is not an object", ""},
      {"duplicate tensor",
       file_image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                  eight_bytes),
       "duplicate entry in the header", "w"},
      {"duplicate field",
       file_image(R"({"w":{"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8]}})", eight_bytes),
       "duplicate key 'dtype'", "w"},
      // 100,000 levels: the issue's crash (no cap, then a recursive json::dump() in the message).
      {"deeply nested entry",
       file_image(R"({"w":)" + std::string(100000, '[') + std::string(100000, ']') + "}", eight_bytes),
       "header is not a safetensors header: arrays or objects nested more than 64 levels deep", "w"},
      {"deeply nested shape",
       file_image(one_entry(R"("F32")", std::string(100000, '[') + std::string(100000, ']'), "[0,8]"),
                  eight_bytes),
       "arrays or objects nested more than 64 levels deep", "w"},
      {"deep unclosed header", file_image(std::string(100000, '['), eight_bytes),
       "header is not a safetensors header: arrays or objects nested more than 64 levels deep", ""},
      {"bytes after the last tensor",
       file_image(one_entry(R"("F32")", "[2]", "[0,8]"), std::vector<char>(13)),
       "5 extra bytes after the last tensor's data (tensor 'w' ends at byte 8 of a data section of 13 bytes)",
       ""},
      {"bytes and no tensor", file_image("{}", eight_bytes),
       "8 extra bytes after the last tensor's data (no tensor holds data of a data section of 8 bytes)", ""},
  };
  for (const MalformedCase& c : cases) {
    const std::string message = parse_error(c.bytes);
    ASSERT_FALSE(message.empty()) << c.description << ": parsed without error";
    EXPECT_EQ(message.rfind("damaged.safetensors: ", 0), 0u) << c.description << ": " << message;
    EXPECT_NE(message.find(c.problem), std::string::npos) << c.description << ": " << message;
    if (!c.tensor.empty()) {
      EXPECT_NE(message.find("(tensor '" + c.tensor + "')"), std::string::npos)
          << c.description << ": " << message;
    }
  }
}

TEST(Safetensors, OpenReportsFileProblems) {
  ScratchDirectory directory;
  auto expect_open_error = [](const std::filesystem::path& path, const std::string& problem) {
    try {
      SafetensorsFile::open(path);
      ADD_FAILURE() << "no exception opening " << path;
    } catch (const SafetensorsError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(path.string() + ": ", 0), 0u) << e.what();
      EXPECT_NE(std::string(e.what()).find(problem), std::string::npos) << e.what();
    }
  };
  expect_open_error(directory / "absent.safetensors", "cannot open: No such file or directory");
  expect_open_error(directory.path(), "not a regular file");
  write_file(directory / "short.safetensors", std::string_view("\x02\0\0", 3));
  expect_open_error(directory / "short.safetensors", "file is 3 bytes");
  std::vector<char> cut = file_image(one_entry(R"("F32")", "[2]", "[0,8]"), std::vector<char>(8));
  cut.resize(cut.size() - 1);  // the data section lost its last byte
  write_file(directory / "cut.safetensors", {cut.data(), cut.size()});
  expect_open_error(directory / "cut.safetensors", "out of bounds");
}

// The reference implementation refuses bytes that no tensor covers after the last one (something appended,
// or a rewrite that did not truncate); so must this reader, on disk as in memory. What save_safetensors
// writes ends exactly with its last tensor.
TEST(Safetensors, BytesAfterTheLastTensorAreRefused) {
  ScratchDirectory directory;
  const auto path = directory / "model.safetensors";
  Tensor w = Tensor::zeros({3}, DType::f32);
  save_safetensors(path, std::vector<NamedTensor>{{"w", w}, {"empty", Tensor::empty({0}, DType::f32)}});
  const SafetensorsFile written = SafetensorsFile::open(path);
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, read_file(path).data(), 8);
  EXPECT_EQ(std::filesystem::file_size(path), 8 + header_bytes + 12);

  std::ofstream(path, std::ios::binary | std::ios::app) << "tail";
  try {
    SafetensorsFile::open(path);
    ADD_FAILURE() << "opened a file with 4 bytes after its last tensor";
  } catch (const SafetensorsError& error) {
    EXPECT_EQ(
        std::string(error.what()),
        path.string() +
            ": 4 extra bytes after the last tensor's data (tensor 'w' ends at byte 12 of a data section "
            "of 16 bytes)");
  }
}

TEST(Safetensors, WritingRefusesWhatCannotBeWritten) {
  ScratchDirectory directory;
  const auto path = directory / "bad.safetensors";
  const Tensor t = Tensor::zeros({2}, DType::f32);
  EXPECT_THROW(save_safetensors(path, std::vector<NamedTensor>{{"w", t}, {"w", t}}), std::invalid_argument);
  EXPECT_THROW(save_safetensors(path, std::vector<NamedTensor>{{"__metadata__", t}}), std::invalid_argument);
  EXPECT_THROW(save_safetensors(path, std::vector<NamedTensor>{{"u", Tensor::zeros({2}, DType::u16)}}),
               std::invalid_argument);
  EXPECT_THROW(save_safetensors(path, std::vector<NamedTensor>{{"undefined", Tensor()}}),
               std::invalid_argument);
  EXPECT_THROW(save_safetensors(path, std::vector<NamedTensor>{{"bad\xff utf8", t}}), std::invalid_argument);
  try {
    save_safetensors(path, std::vector<NamedTensor>{{"w", t}, {"v", t}, {"w", t}});
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("duplicate tensor name (tensor 'w')"), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(directory.file_names().empty());
}

// Random damage to a valid file: every result is either a file whose entries all lie inside the data section
// and read back (or refuse with SafetensorsError), or a SafetensorsError. Nothing else escapes.
TEST(Safetensors, SurvivesRandomDamage) {
  ScratchDirectory directory;
  Tensor weight = Tensor::empty({3, 2}, DType::f32);
  for (int i = 0; i < 6; ++i) weight.data<float>()[i] = static_cast<float>(i);
  Tensor half = convert_dtype(weight, DType::f16);
  Tensor ids = Tensor::empty({4}, DType::i32);
  for (int i = 0; i < 4; ++i) ids.data<int32_t>()[i] = i;
  save_safetensors(directory / "valid.safetensors",
                   std::vector<NamedTensor>{
                       {"w", weight}, {"h", half}, {"ids", ids}, {"d", convert_dtype(weight, DType::f64)}},
                   {{"format", "pt"}});
  const std::string image = read_file(directory / "valid.safetensors");
  const std::vector<char> valid(image.begin(), image.end());
  uint64_t header_length = 0;
  std::memcpy(&header_length, valid.data(), 8);

  std::mt19937_64 random(20240607);
  const std::string interesting = "{}[]\":,-0123456789e.FIU ";
  int parsed = 0, refused = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    std::vector<char> bytes = valid;
    const int mutations = 1 + static_cast<int>(random() % 4);
    for (int m = 0; m < mutations && !bytes.empty(); ++m) {
      // Mostly inside the header, where the structure is.
      const size_t span = random() % 4 ? std::min<size_t>(bytes.size(), 8 + header_length) : bytes.size();
      const size_t at = random() % span;
      switch (random() % 6) {
        case 0:
          bytes[at] = static_cast<char>(random());
          break;
        case 1:
          bytes[at] = interesting[random() % interesting.size()];
          break;
        case 2:
          bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(at));
          break;
        case 3:
          bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                       interesting[random() % interesting.size()]);
          break;
        case 4:
          bytes.resize(at);
          break;
        case 5:
          bytes[random() % 8] = static_cast<char>(random());
          break;  // the length field
      }
    }
    try {
      const SafetensorsFile file = SafetensorsFile::parse(bytes, "damaged.safetensors");
      ++parsed;
      uint64_t length = 0;
      std::memcpy(&length, bytes.data(), 8);
      const uint64_t data_bytes = bytes.size() - 8 - length;
      uint64_t previous_end = 0;
      for (const SafetensorsEntry& entry : file.entries()) {
        ASSERT_LE(entry.begin, entry.end);
        ASSERT_LE(entry.end, data_bytes);
        if (entry.begin != entry.end) {
          ASSERT_GE(entry.begin, previous_end);
          previous_end = entry.end;
        }
        const bool integer = entry.dtype == "I32" || entry.dtype == "I64";
        try {
          const Tensor t = file.read(entry.name, integer ? DType::i32 : DType::f32);
          ASSERT_EQ(t.shape(), entry.shape);
        } catch (const SafetensorsError&) {
        }
      }
      ASSERT_EQ(previous_end, data_bytes);  // no byte after the last tensor
    } catch (const SafetensorsError&) {
      ++refused;
    }
  }
  // Both outcomes must occur, or the damage is not exercising the checks (bytes inserted into or cut from
  // the data section are refused since trailing bytes are, so fewer damaged files parse than header damage
  // alone would leave).
  EXPECT_GT(parsed, 25);
  EXPECT_GT(refused, 1000);
}

}  // namespace
}  // namespace minimind
