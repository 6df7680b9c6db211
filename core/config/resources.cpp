// The resources folder, compiled in for a build tree and overridable for an installed copy.
#include "config/resources.h"

#include <cstdlib>

namespace minimind {

std::filesystem::path resources_dir() {
  if (const char* dir = std::getenv("MINIMIND_RESOURCES_DIR"); dir && *dir) return dir;
  return MINIMIND_SOURCE_RESOURCES_DIR;
}

std::filesystem::path default_tokenizer_dir() { return resources_dir() / "tokenizer"; }

std::filesystem::path default_corpus_dir() { return resources_dir() / "corpus" / "default"; }

}  // namespace minimind
