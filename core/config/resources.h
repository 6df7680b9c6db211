// Where the lab's shipped files live (presets, the default corpus, the default tokenizer): the folder named by
// the environment variable MINIMIND_RESOURCES_DIR when it is set, else the source tree's resources/.
#pragma once

#include <filesystem>

namespace minimind {

std::filesystem::path resources_dir();
std::filesystem::path default_tokenizer_dir();  // resources/tokenizer
std::filesystem::path default_corpus_dir();     // resources/corpus/default

}  // namespace minimind
