// libFuzzer target for the tokenizer.json reader: any byte string must either load into a tokenizer that
// encodes and decodes a fixed text (ids inside the vocabulary, the same ids again after writing the tokenizer
// out and reading it back) or be refused with TokenizerError. Anything else -- a crash, a sanitizer report,
// another exception type, a hang -- is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace minimind;
  static const std::string kText =
      "Hello, world! It's 2024.\n\t<|im_start|>user\n你好😀<|im_end|> \xFF\xE4\xB8 <|end|>  hello  ";
  try {
    const Tokenizer tokenizer =
        Tokenizer::from_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz-input");
    const std::vector<int32_t> ids = tokenizer.encode(kText);
    for (const int32_t id : ids) {
      if (id < 0 || id >= tokenizer.vocab_size()) __builtin_trap();
    }
    tokenizer.decode(ids);
    tokenizer.decode_bytes(ids, /*skip_special_tokens=*/true);
    const Tokenizer reread = Tokenizer::from_json(tokenizer.to_json(), "fuzz-output");
    if (reread.encode(kText) != ids) __builtin_trap();
  } catch (const TokenizerError&) {
  }
  return 0;
}
