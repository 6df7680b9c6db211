// The chat format and the SFT loss mask. References: the ChatML text written out by hand, the tokenizer's own
// encoding of the whole rendered text (the ids must be exactly those), and the mask checked by decoding what
// it covers: the assistant contents, each followed by <|im_end|>.
#include "tokenizer/chat_format.h"

#include <gtest/gtest.h>

#include "tokenizer_test_support.h"

namespace minimind {
namespace {

using tokenizer_test::reference_tokenizer;

const std::vector<ChatMessage> kChat = {
    {"system", "You are a helpful assistant."},
    {"user", "你好，请介绍一下你自己。"},
    {"assistant", "我是MiniMind，一个小型语言模型。"},
    {"user", "1+1=?"},
    {"assistant", "1+1=2"},
};

TEST(ChatFormat, RendersChatMl) {
  EXPECT_EQ(render_chat(kChat),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\n你好，请介绍一下你自己。<|im_end|>\n"
            "<|im_start|>assistant\n我是MiniMind，一个小型语言模型。<|im_end|>\n"
            "<|im_start|>user\n1+1=?<|im_end|>\n"
            "<|im_start|>assistant\n1+1=2<|im_end|>\n");
  const std::vector<ChatMessage> question = {{"user", "hi"}};
  EXPECT_EQ(render_chat(question, /*add_generation_prompt=*/true),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render_chat({}), "");
}

TEST(ChatFormat, RefusesOtherRoles) {
  const std::vector<ChatMessage> chat = {{"user", "hi"}, {"tool", "{}"}};
  try {
    render_chat(chat);
    ADD_FAILURE() << "accepted the role tool";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(),
                 "chat message 1: role \"tool\" is not supported (expected system, user or assistant)");
  }
  const std::vector<ChatMessage> capitalised = {{"User", "hi"}};
  EXPECT_THROW(render_chat(capitalised), std::invalid_argument);
  EXPECT_THROW(encode_chat(tokenizer_test::tiny_tokenizer(), capitalised), std::invalid_argument);
}

// The bytes the masked tokens decode to, run by run, joined by "|".
std::string masked_text(const Tokenizer& tokenizer, const ChatEncoding& encoding) {
  std::string text;
  for (std::size_t i = 0; i < encoding.ids.size(); ++i) {
    if (encoding.loss_mask[i]) text += tokenizer.token_bytes(encoding.ids[i]);
    if (!encoding.loss_mask[i] && i > 0 && encoding.loss_mask[i - 1]) text += "|";
  }
  return text;
}

TEST(ChatFormat, MiniMindIdsAreTheWholeTextsEncodingAndTheMaskCoversAssistantContent) {
  MINIMIND_REQUIRE_REFERENCE_TOKENIZER();
  const Tokenizer& tokenizer = *reference_tokenizer();
  const ChatEncoding encoding = encode_chat(tokenizer, kChat);
  EXPECT_EQ(encoding.ids, tokenizer.encode(render_chat(kChat)));
  ASSERT_EQ(encoding.loss_mask.size(), encoding.ids.size());
  EXPECT_EQ(masked_text(tokenizer, encoding), "我是MiniMind，一个小型语言模型。<|im_end|>|1+1=2<|im_end|>|");
  // Each learned run follows "<|im_start|>assistant\n" and is followed by an unlearned "\n".
  for (std::size_t i = 0; i < encoding.ids.size(); ++i) {
    if (encoding.loss_mask[i] && (i == 0 || !encoding.loss_mask[i - 1])) {
      const std::string before = tokenizer.decode(std::span(encoding.ids).first(i));
      EXPECT_TRUE(before.ends_with("<|im_start|>assistant\n")) << before;
    }
    if (!encoding.loss_mask[i] && i > 0 && encoding.loss_mask[i - 1]) {
      EXPECT_EQ(tokenizer.decode(std::span(encoding.ids).subspan(i, 1)), "\n");
    }
  }
  ASSERT_GE(encoding.ids.size(), 2u);  // the chat ends <|im_end|> (learned) "\n" (not learned)
  EXPECT_EQ(encoding.ids[encoding.ids.size() - 2], *tokenizer.token_to_id("<|im_end|>"));
  EXPECT_EQ(encoding.loss_mask[encoding.ids.size() - 2], 1);
  EXPECT_EQ(encoding.loss_mask.back(), 0);

  const ChatEncoding prompt =
      encode_chat(tokenizer, std::vector<ChatMessage>(kChat.begin(), kChat.begin() + 4),
                  /*add_generation_prompt=*/true);
  EXPECT_EQ(prompt.ids,
            tokenizer.encode(render_chat(std::vector<ChatMessage>(kChat.begin(), kChat.begin() + 4), true)));
  EXPECT_EQ(masked_text(tokenizer, prompt), "我是MiniMind，一个小型语言模型。<|im_end|>|");
  EXPECT_EQ(prompt.loss_mask.back(), 0);
}

TEST(ChatFormat, EdgeCasesOfContent) {
  MINIMIND_REQUIRE_REFERENCE_TOKENIZER();
  const Tokenizer& tokenizer = *reference_tokenizer();
  const std::vector<ChatMessage> chat = {
      {"user", "x"},
      {"assistant", ""},                // empty: only <|im_end|> is learned
      {"assistant", "\n\n  indented"},  // leading white space: may share a token with the header's "\n"
      {"assistant", "<think>\nhmm\n</think>\nok"},  // added tokens inside the content
      {"assistant", "bad \xFF byte"},               // invalid UTF-8 in the content
  };
  const ChatEncoding encoding = encode_chat(tokenizer, chat);
  EXPECT_EQ(encoding.ids, tokenizer.encode(render_chat(chat)));
  const std::string masked = masked_text(tokenizer, encoding);
  // Every content byte is learned; a token shared with the header brings its "\n" along.
  EXPECT_NE(masked.find("<|im_end|>|"), std::string::npos);
  EXPECT_NE(masked.find("\n\n  indented<|im_end|>|"), std::string::npos);
  EXPECT_NE(masked.find("<think>\nhmm\n</think>\nok<|im_end|>|"), std::string::npos);
  EXPECT_NE(masked.find("bad \xFF byte<|im_end|>|"), std::string::npos);
  EXPECT_EQ(masked.find("x"), std::string::npos);
  EXPECT_EQ(masked.find("assistant"), std::string::npos);
}

TEST(ChatFormat, TinyTokenizerWithoutChatTokens) {
  // Without <|im_start|> as an added token the markers are ordinary text; the mask still follows the bytes.
  const Tokenizer tokenizer = tokenizer_test::tiny_tokenizer();
  const std::vector<ChatMessage> chat = {{"user", "hello"}, {"assistant", "hello hello"}};
  const ChatEncoding encoding = encode_chat(tokenizer, chat);
  EXPECT_EQ(encoding.ids, tokenizer.encode(render_chat(chat)));
  EXPECT_EQ(masked_text(tokenizer, encoding), "hello hello<|im_end|>|");
}

}  // namespace
}  // namespace minimind
