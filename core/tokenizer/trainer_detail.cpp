// GPT-2's byte-to-unicode mapping and pre-tokenization regex, as Hugging Face tokenizers applies them.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/trainer_detail.h"

#include <pcre2.h>

#include <stdexcept>

namespace minimind::trainer_detail {
namespace {

// Hugging Face compiles the GPT-2 pattern with Oniguruma, whose Unicode \s is [\t\n\v\f\r\x{85}\p{Z}];
// PCRE2's \s under UCP differs (it lacks U+0085 and has U+180E), so that class is spelled out here.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\t\n\x0B\f\r\x{85}\p{Z}\p{L}\p{N}]+)"
    R"(|[\t\n\x0B\f\r\x{85}\p{Z}]+(?![^\t\n\x0B\f\r\x{85}\p{Z}])|[\t\n\x0B\f\r\x{85}\p{Z}]+)";

std::array<char32_t, 256> make_byte_to_codepoint() {
  std::array<char32_t, 256> table{};
  char32_t next_unprintable = 256;
  for (int byte = 0; byte < 256; ++byte) {
    const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
    table[byte] = printable ? static_cast<char32_t>(byte) : next_unprintable++;
  }
  return table;
}

std::array<std::string, 256> make_byte_to_utf8() {
  std::array<std::string, 256> table;
  for (int byte = 0; byte < 256; ++byte) append_utf8(byte_to_codepoint()[byte], table[byte]);
  return table;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

const std::array<char32_t, 256>& byte_to_codepoint() {
  static const std::array<char32_t, 256> table = make_byte_to_codepoint();
  return table;
}

const std::array<std::string, 256>& byte_to_utf8() {
  static const std::array<std::string, 256> table = make_byte_to_utf8();
  return table;
}

void append_utf8(char32_t codepoint, std::string& out) {
  if (codepoint < 0x80) {
    out += static_cast<char>(codepoint);
  } else if (codepoint < 0x800) {
    out += static_cast<char>(0xC0 | (codepoint >> 6));
    out += static_cast<char>(0x80 | (codepoint & 0x3F));
  } else if (codepoint < 0x10000) {
    out += static_cast<char>(0xE0 | (codepoint >> 12));
    out += static_cast<char>(0x80 | ((codepoint >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (codepoint & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (codepoint >> 18));
    out += static_cast<char>(0x80 | ((codepoint >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((codepoint >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (codepoint & 0x3F));
  }
}

std::string byte_level_encode(std::string_view bytes) {
  const auto& table = byte_to_utf8();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char byte : bytes) out += table[static_cast<unsigned char>(byte)];
  return out;
}

struct Gpt2PreTokenizer::Impl {
  struct CodeDeleter {
    void operator()(pcre2_code* code) const { pcre2_code_free(code); }
  };
  struct MatchDataDeleter {
    void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
  };
  std::unique_ptr<pcre2_code, CodeDeleter> code;
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> match_data;
};

Gpt2PreTokenizer::Gpt2PreTokenizer() : impl_(std::make_unique<Impl>()) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  // MATCH_INVALID_UTF: invalid UTF-8 never matches and is never an error, so arbitrary bytes are split
  // safely.
  impl_->code.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kGpt2Pattern.data()), kGpt2Pattern.size(),
                                  PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code, &error_offset,
                                  nullptr));
  if (!impl_->code) {
    throw std::runtime_error("GPT-2 pre-tokenizer: PCRE2 cannot compile the pattern at offset " +
                             std::to_string(error_offset) + ": " + pcre2_message(error_code));
  }
  // Without JIT (a PCRE2 built without it) matching still works, only slower.
  pcre2_jit_compile(impl_->code.get(), PCRE2_JIT_COMPLETE);
  impl_->match_data.reset(pcre2_match_data_create_from_pattern(impl_->code.get(), nullptr));
  if (!impl_->match_data) throw std::bad_alloc();
}

Gpt2PreTokenizer::~Gpt2PreTokenizer() = default;
Gpt2PreTokenizer::Gpt2PreTokenizer(Gpt2PreTokenizer&&) noexcept = default;
Gpt2PreTokenizer& Gpt2PreTokenizer::operator=(Gpt2PreTokenizer&&) noexcept = default;

void Gpt2PreTokenizer::split(std::string_view text,
                             const std::function<void(std::string_view piece)>& on_piece) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const PCRE2_SIZE length = text.size();
  PCRE2_SIZE unmatched_from = 0;
  PCRE2_SIZE search_from = 0;
  while (search_from < length) {
    const int result =
        pcre2_match(impl_->code.get(), subject, length, search_from, 0, impl_->match_data.get(), nullptr);
    if (result == PCRE2_ERROR_NOMATCH) break;
    if (result < 0) {
      throw std::runtime_error("GPT-2 pre-tokenizer: PCRE2 match failed at byte " +
                               std::to_string(search_from) + ": " + pcre2_message(result));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(impl_->match_data.get());
    const PCRE2_SIZE match_begin = ovector[0];
    const PCRE2_SIZE match_end = ovector[1];
    if (match_begin > unmatched_from) on_piece(text.substr(unmatched_from, match_begin - unmatched_from));
    // Every alternative consumes at least one character, so a match is never empty and the loop advances.
    on_piece(text.substr(match_begin, match_end - match_begin));
    unmatched_from = search_from = match_end;
  }
  if (unmatched_from < length) on_piece(text.substr(unmatched_from));
}

}  // namespace minimind::trainer_detail
