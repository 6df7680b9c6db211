// Presets against the sizes they promise (stated by hand) and resources/presets/*.json against
// config_to_json(preset(name)), so the shipped files cannot drift from the code. Run the suite with
// MINIMIND_WRITE_PRESETS=1 to rewrite the files from the code after changing a preset.
#include "config/resources.h"
#include "config/presets.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace minimind {
namespace {

using nlohmann::json;

TEST(Presets, ListsEveryPresetInOrderOfSize) {
  EXPECT_EQ(preset_names(), (std::vector<std::string>{"tiny", "small", "medium", "large", "moe", "long"}));
  for (const std::string& name : preset_names()) EXPECT_TRUE(validate(preset(name)).empty()) << name;
}

TEST(Presets, HaveTheSizesTheyPromise) {
  const ModelConfig tiny = preset("tiny");
  EXPECT_EQ(tiny.hidden_size, 256);
  EXPECT_EQ(tiny.num_hidden_layers, 4);
  EXPECT_EQ(tiny.num_attention_heads, 8);
  EXPECT_EQ(tiny.num_key_value_heads, 2);
  EXPECT_EQ(tiny.vocab_size, 6400);
  EXPECT_EQ(tiny.max_position_embeddings, 32768);
  EXPECT_EQ(tiny.ffn_size(), 704);
  EXPECT_FALSE(tiny.use_moe);

  const ModelConfig seed_defaults;
  EXPECT_EQ(preset("small"), seed_defaults) << "small is the seed's default MiniMind";

  const ModelConfig medium = preset("medium");
  EXPECT_EQ(medium.hidden_size, 1024);
  EXPECT_EQ(medium.num_hidden_layers, 16);
  EXPECT_EQ(medium.num_attention_heads, 16);
  EXPECT_EQ(medium.num_key_value_heads, 4);
  EXPECT_EQ(medium.vocab_size, 32000);
  EXPECT_EQ(medium.head_dim(), 64);

  const ModelConfig large = preset("large");
  EXPECT_EQ(large.hidden_size, 2048);
  EXPECT_EQ(large.num_hidden_layers, 24);
  EXPECT_EQ(large.num_attention_heads, 32);
  EXPECT_EQ(large.num_key_value_heads, 8);
  EXPECT_EQ(large.vocab_size, 32000);
  EXPECT_EQ(large.head_dim(), 64);

  ModelConfig moe;
  moe.use_moe = true;
  EXPECT_EQ(preset("moe"), moe);

  ModelConfig long_context;
  long_context.inference_rope_scaling = true;
  long_context.max_position_embeddings = 32768;
  EXPECT_EQ(preset("long"), long_context);
  EXPECT_TRUE(preset("long").yarn_active());
}

TEST(Presets, UnknownNameListsTheAvailableOnes) {
  try {
    preset("huge");
    FAIL() << "an unknown preset was accepted";
  } catch (const std::invalid_argument& error) {
    const std::string text = error.what();
    EXPECT_NE(text.find("\"huge\""), std::string::npos) << text;
    for (const std::string& name : preset_names()) EXPECT_NE(text.find(name), std::string::npos) << text;
  }
  EXPECT_THROW(preset(""), std::invalid_argument);
  EXPECT_THROW(preset("Tiny"), std::invalid_argument);
}

TEST(Presets, ResourceFilesEqualTheCode) {
  const std::filesystem::path directory = resources_dir() / "presets";
  const char* write = std::getenv("MINIMIND_WRITE_PRESETS");
  if (write && std::string(write) == "1") {
    std::filesystem::create_directories(directory);
    for (const std::string& name : preset_names()) save_config(preset(name), directory / (name + ".json"));
  }
  std::set<std::string> expected_files;
  for (const std::string& name : preset_names()) {
    const std::filesystem::path path = directory / (name + ".json");
    expected_files.insert(path.filename().string());
    std::ifstream file(path);
    ASSERT_TRUE(file) << "missing " << path << " (run with MINIMIND_WRITE_PRESETS=1 to write it)";
    EXPECT_EQ(json::parse(file), config_to_json(preset(name)))
        << path << " differs from preset(\"" << name << "\"); run with MINIMIND_WRITE_PRESETS=1";
    ModelConfig resolved = preset(name);
    resolved.intermediate_size = resolved.ffn_size();
    EXPECT_EQ(load_config(path), resolved) << path;
  }
  std::set<std::string> found_files;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    if (entry.path().extension() == ".json") found_files.insert(entry.path().filename().string());
  EXPECT_EQ(found_files, expected_files) << "a preset file without a preset in the code";
}

}  // namespace
}  // namespace minimind
