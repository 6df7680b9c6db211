// Model directories on disk: save then load gives identical parameters; the tied embedding is accepted
// under either name; missing, misshaped, unexpected or contradictory tensors are refused by name.
#include "model/model_dir.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "backend/cpu/cpu_backend.h"
#include "io/safetensors.h"
#include "support/scratch_directory.h"

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

}  // namespace
}  // namespace minimind
