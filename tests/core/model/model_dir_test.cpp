// Model directories on disk: save then load gives identical parameters; the tied embedding is accepted
// under either name; missing, misshaped, unexpected or contradictory tensors are refused by name. A
// checkpoint (a directory with a COMPLETE marker) loads only if its files match the marker: CRC-32C detects
// every change confined to one byte, so each single-byte flip is refused, naming the file; one without a
// marker (exported, or written by PyTorch) loads after the header checks alone.
#include "model/model_dir.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "backend/cpu/cpu_backend.h"
#include "core/train/checkpoint_test_support.h"
#include "io/complete_marker.h"
#include "io/safetensors.h"
#include "support/file_contents.h"
#include "support/scratch_directory.h"
#include "train/checkpoint.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;

ModelConfig tiny_config() {
  ModelConfig c;
  c.hidden_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.vocab_size = 19;
  c.intermediate_size = 32;
  c.max_position_embeddings = 32;
  return c;
}

class ModelDirTest : public ::testing::Test {
 protected:

  // Rewrites model.safetensors with `edit` applied to its tensor list.
  template <typename Edit>
  void rewrite(Edit edit) {
    const SafetensorsFile file = SafetensorsFile::open(dir_ / "model.safetensors");
    std::vector<NamedTensor> tensors;
    for (const SafetensorsEntry& e : file.entries()) tensors.push_back({e.name, file.read(e.name, DType::f32)});
    edit(tensors);
    save_safetensors(dir_ / "model.safetensors", tensors);
  }

  ScratchDirectory scratch_;
  const fs::path dir_ = scratch_.path() / "model";
  CpuBackend backend_{1};
};

TEST_F(ModelDirTest, SaveThenLoadRoundTrips) {
  ModelConfig c = tiny_config();
  c.use_moe = true;
  MiniMindModel model(c, backend_);
  model.init_weights(3);
  save_model(model, dir_);
  const SafetensorsFile file = SafetensorsFile::open(dir_ / "model.safetensors");
  EXPECT_TRUE(file.contains("lm_head.weight"));
  EXPECT_TRUE(file.contains("model.embed_tokens.weight"));
  EXPECT_TRUE(file.contains("model.layers.1.mlp.experts.3.down_proj.weight"));
  EXPECT_TRUE(file.contains("model.layers.0.mlp.shared_experts.0.gate_proj.weight"));
  auto loaded = load_model(dir_, backend_);
  EXPECT_TRUE(loaded->config().use_moe);
  const Tensor a = model.parameters().buffer(), b = loaded->parameters().buffer();
  ASSERT_EQ(a.numel(), b.numel());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data<float>()[i], b.data<float>()[i]) << i;
}

TEST_F(ModelDirTest, Bfloat16StorageLoadsWithinItsPrecision) {
  MiniMindModel model(tiny_config(), backend_);
  model.init_weights(4);
  save_model(model, dir_, DType::bf16);
  EXPECT_EQ(SafetensorsFile::open(dir_ / "model.safetensors").entry("model.norm.weight").dtype, "BF16");
  auto loaded = load_model(dir_, backend_);
  const Tensor a = model.parameters().buffer(), b = loaded->parameters().buffer();
  for (int64_t i = 0; i < a.numel(); ++i)
    ASSERT_NEAR(a.data<float>()[i], b.data<float>()[i], std::abs(a.data<float>()[i]) / 128 + 1e-30) << i;
}

TEST_F(ModelDirTest, TiedEmbeddingUnderEitherName) {
  MiniMindModel model(tiny_config(), backend_);
  model.init_weights(5);
  save_model(model, dir_);
  const Tensor embedding = model.parameters().get("model.embed_tokens.weight");
  for (const char* drop : {"lm_head.weight", "model.embed_tokens.weight"}) {
    save_model(model, dir_);
    rewrite([&](std::vector<NamedTensor>& t) {
      std::erase_if(t, [&](const NamedTensor& n) { return n.name == drop; });
    });
    auto loaded = load_model(dir_, backend_);
    const Tensor got = loaded->parameters().get("model.embed_tokens.weight");
    for (int64_t i = 0; i < got.numel(); ++i) ASSERT_EQ(got.data<float>()[i], embedding.data<float>()[i]);
  }
}

void expect_load_error(const fs::path& dir, CpuBackend& backend, const std::string& fragment) {
  try {
    load_model(dir, backend);
    ADD_FAILURE() << "loaded; expected an error mentioning " << fragment;
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST_F(ModelDirTest, RefusesMissingMisshapedUnexpectedAndContradictoryTensors) {
  MiniMindModel model(tiny_config(), backend_);
  model.init_weights(6);
  save_model(model, dir_);
  rewrite([](std::vector<NamedTensor>& t) {
    std::erase_if(t, [](const NamedTensor& n) { return n.name == "model.layers.1.self_attn.k_proj.weight"; });
  });
  expect_load_error(dir_, backend_, "missing tensor 'model.layers.1.self_attn.k_proj.weight'");

  save_model(model, dir_);
  rewrite([](std::vector<NamedTensor>& t) { t.push_back({"model.layers.9.extra", Tensor::zeros({2}, DType::f32)}); });
  expect_load_error(dir_, backend_, "model.layers.9.extra");

  save_model(model, dir_);
  rewrite([](std::vector<NamedTensor>& t) {
    for (NamedTensor& n : t)
      if (n.name == "model.norm.weight") n.tensor = Tensor::zeros({17}, DType::f32);
  });
  expect_load_error(dir_, backend_, "'model.norm.weight' has shape [17]");

  save_model(model, dir_);
  rewrite([](std::vector<NamedTensor>& t) {
    for (NamedTensor& n : t)
      if (n.name == "lm_head.weight") n.tensor = Tensor::zeros(n.tensor.shape(), DType::f32);
  });
  expect_load_error(dir_, backend_, "differ");

  fs::remove(dir_ / "model.safetensors");
  expect_load_error(dir_, backend_, "model.safetensors");
}

// A checkpoint written the way training writes it, of a model whose weights are determined by `seed`.
fs::path write_test_checkpoint(const fs::path& run_dir, CpuBackend& backend, uint64_t seed) {
  MiniMindModel model(testing::checkpoint_test_config(), backend);
  const Tensor base = testing::initial_parameters(model, seed);
  return write_checkpoint(run_dir, model, testing::state_for_step(model, base, 3));
}

TEST_F(ModelDirTest, EverySingleByteFlipInACheckpointsWeightsIsRefusedNamingTheFile) {
  const fs::path checkpoint = write_test_checkpoint(scratch_.path() / "run", backend_, 7);
  const fs::path weights = checkpoint / "model.safetensors";
  const uint64_t size = fs::file_size(weights);
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, read_file(weights).data(), sizeof header_bytes);
  const uint64_t data_start = 8 + header_bytes;
  ASSERT_LT(data_start, size);

  // The length field, 12 places spread over the JSON header, 16 over the tensor data, and the last byte.
  std::vector<uint64_t> positions = {0, 3, 7};
  for (uint64_t i = 0; i < 12; ++i) positions.push_back(8 + header_bytes * i / 12);
  for (uint64_t i = 0; i < 16; ++i) positions.push_back(data_start + (size - data_start) * i / 16);
  positions.push_back(size - 1);
  ASSERT_GE(positions.size(), 27u);
  for (const uint64_t at : positions) {
    testing::flip_byte(weights, at);
    try {
      load_model(checkpoint, backend_);
      ADD_FAILURE() << "byte " << at << " of " << size << " flipped (data from " << data_start
                    << "), and the model loaded";
    } catch (const std::exception& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("checkpoint file " + weights.string() + " is corrupt"), std::string::npos)
          << "byte " << at << ": " << message;
    }
    testing::flip_byte(weights, at);
  }
  EXPECT_NO_THROW(load_model(checkpoint, backend_));  // every byte back in place
}

TEST_F(ModelDirTest, ACheckpointIsCheckedForTheFilesItLoads) {
  const fs::path checkpoint = write_test_checkpoint(scratch_.path() / "run", backend_, 8);
  // config.json is certified too: an edit since the checkpoint was written is refused.
  testing::flip_byte(checkpoint / "config.json", 10);
  expect_load_error(checkpoint, backend_, (checkpoint / "config.json").string() + " is corrupt");
  testing::flip_byte(checkpoint / "config.json", 10);
  fs::resize_file(checkpoint / "model.safetensors", fs::file_size(checkpoint / "model.safetensors") - 4);
  expect_load_error(checkpoint, backend_, "truncated");

  // The optimizer state is not read to load the model, so its damage does not stop generation or eval.
  const fs::path second = write_test_checkpoint(scratch_.path() / "run2", backend_, 8);
  testing::flip_byte(second / "trainer_state.safetensors", 100);
  EXPECT_NO_THROW(load_model(second, backend_));
  EXPECT_THROW(verify_checkpoint(second), CheckpointError);  // resuming from it is refused

  // A marker that does not vouch for the weights does not let them through unchecked.
  write_complete_marker(second, {"config.json"}, 3);
  expect_load_error(second, backend_, "does not list model.safetensors");
}

TEST_F(ModelDirTest, AModelWithoutAMarkerLoadsAfterTheHeaderChecks) {
  // As exported, or written by PyTorch: config.json and model.safetensors only.
  MiniMindModel model(tiny_config(), backend_);
  model.init_weights(9);
  save_model(model, dir_);
  ASSERT_FALSE(fs::exists(dir_ / "COMPLETE"));
  auto loaded = load_model(dir_, backend_);
  EXPECT_TRUE(testing::same_bytes(loaded->parameters().buffer(), model.parameters().buffer()));

  // A checkpoint copied without its marker is such a directory too; its safetensors header is still checked.
  const fs::path checkpoint = write_test_checkpoint(scratch_.path() / "run", backend_, 10);
  const fs::path exported = scratch_.path() / "exported";
  fs::create_directories(exported);
  for (const char* file : {"config.json", "model.safetensors"})
    fs::copy_file(checkpoint / file, exported / file);
  EXPECT_NO_THROW(load_model(exported, backend_));
  testing::flip_byte(exported / "model.safetensors", 5);  // the header's length, now far past the file's end
  expect_load_error(exported, backend_, (exported / "model.safetensors").string());
}

}  // namespace
}  // namespace minimind
