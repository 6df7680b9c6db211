// The Generate view alone (offscreen platform), with values pushed in by hand: the sliders and spin boxes give
// the request's values, appended tokens build the output after the prompt with one span per token, the hover
// text of a token lists its candidates with their probabilities as percentages, buttons emit their signals,
// and chat mode keeps the finished turns as history.
#include "generate_view.h"

#include <gtest/gtest.h>

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QTextEdit>

namespace minimind {
namespace {

template <typename T>
T* child(const GenerateView& view, const char* name) {
  T* found = view.findChild<T*>(name);
  EXPECT_NE(found, nullptr) << name;
  return found;
}

TEST(GenerateView, SlidersMapToTheRequest) {
  GenerateView view;
  auto* temperature = child<QSlider>(view, "temperature_slider");
  auto* top_k = child<QSlider>(view, "top_k_slider");
  auto* top_p = child<QSlider>(view, "top_p_slider");
  auto* penalty = child<QSlider>(view, "repetition_penalty_slider");
  auto* max_tokens = child<QSlider>(view, "max_tokens_slider");
  // The ranges: temperature 0..2, top-k 0..200, top-p 0.01..1, penalty 1..2, max tokens 1..1024.
  EXPECT_EQ(temperature->minimum(), 0);
  EXPECT_EQ(temperature->maximum(), 200);
  EXPECT_EQ(top_k->maximum(), 200);
  EXPECT_EQ(top_p->minimum(), 1);
  EXPECT_EQ(top_p->maximum(), 100);
  EXPECT_EQ(penalty->minimum(), 100);
  EXPECT_EQ(penalty->maximum(), 200);
  EXPECT_EQ(max_tokens->minimum(), 1);
  EXPECT_EQ(max_tokens->maximum(), 1024);

  temperature->setValue(150);
  top_k->setValue(17);
  top_p->setValue(35);
  penalty->setValue(125);
  max_tokens->setValue(300);
  child<QSpinBox>(view, "seed_box")->setValue(42);
  GenerationRequest r = view.request();
  EXPECT_DOUBLE_EQ(r.temperature, 1.5);
  EXPECT_EQ(r.top_k, 17);
  EXPECT_DOUBLE_EQ(r.top_p, 0.35);
  EXPECT_DOUBLE_EQ(r.repetition_penalty, 1.25);
  EXPECT_EQ(r.max_new_tokens, 300);
  EXPECT_EQ(r.seed, 42u);
  EXPECT_FALSE(r.chat);
  EXPECT_TRUE(r.history.empty());
  EXPECT_EQ(child<QDoubleSpinBox>(view, "temperature_box")->value(), 1.5);

  // Typing the value moves the slider too; 0 is greedy.
  child<QDoubleSpinBox>(view, "temperature_box")->setValue(0.0);
  EXPECT_EQ(temperature->value(), 0);
  EXPECT_DOUBLE_EQ(view.request().temperature, 0.0);
  child<QDoubleSpinBox>(view, "max_tokens_box")->setValue(1024);
  EXPECT_EQ(max_tokens->value(), 1024);
  EXPECT_EQ(view.request().max_new_tokens, 1024);
}

TEST(GenerateView, TokensBuildTheOutputAfterThePrompt) {
  GenerateView view;
  view.set_model_description("tiny (/models/tiny)");
  view.set_prompt("Hello");
  child<QPushButton>(view, "generate_button")->click();
  EXPECT_TRUE(view.generating());
  view.append_token(101, " wor", {});
  view.append_token(102, "ld", {});
  view.append_token(7, "", {});  // bytes of an unfinished character: no text yet
  view.append_token(103, "!\n", {});
  EXPECT_EQ(view.output_text(), " world!\n");
  EXPECT_EQ(view.token_count(), 4);
  EXPECT_EQ(child<QTextEdit>(view, "output_edit")->toPlainText(), "Hello world!\n");
  // Document positions: "Hello" 0-4, " wor" 5-8, "ld" 9-10, "!\n" 11-12.
  EXPECT_EQ(view.token_at(3), -1);  // the prompt is no token
  EXPECT_EQ(view.token_at(5), 0);
  EXPECT_EQ(view.token_at(8), 0);
  EXPECT_EQ(view.token_at(9), 1);
  EXPECT_EQ(view.token_at(10), 1);
  EXPECT_EQ(view.token_at(11), 3);
  EXPECT_EQ(view.token_at(12), 3);
  EXPECT_EQ(view.token_at(13), -1);

  view.finish("max tokens reached", 12.5);
  EXPECT_FALSE(view.generating());
  EXPECT_TRUE(view.status_text().contains("4 tokens")) << view.status_text().toStdString();
  EXPECT_TRUE(view.status_text().contains("12.5 tokens/s"));
  EXPECT_TRUE(view.status_text().contains("max tokens reached"));
  EXPECT_TRUE(child<QPushButton>(view, "generate_button")->isEnabled());
  EXPECT_FALSE(child<QPushButton>(view, "stop_button")->isEnabled());

  // The next completion starts a fresh output.
  view.set_prompt("Bye");
  child<QPushButton>(view, "generate_button")->click();
  view.append_token(5, ".", {});
  EXPECT_EQ(view.output_text(), ".");
  EXPECT_EQ(child<QTextEdit>(view, "output_edit")->toPlainText(), "Bye.");
  EXPECT_EQ(view.token_at(3), 0);
}

TEST(GenerateView, HoverTextListsTheCandidatesWithProbabilities) {
  GenerateView view;
  view.append_token(11, " the", {{" the", 0.625}, {" a", 0.25}, {"\n", 0.125}});
  view.append_token(12, " cat", {{" cat", 0.5}, {" dog", 0.5}});
  const QStringList lines = view.candidates_text(0).split('\n');
  ASSERT_EQ(lines.size(), 5) << view.candidates_text(0).toStdString();
  EXPECT_TRUE(lines[0].contains("\" the\"") && lines[0].contains("id 11")) << lines[0].toStdString();
  EXPECT_EQ(lines[2].trimmed(), "\" the\"  62.50%");
  EXPECT_EQ(lines[3].trimmed(), "\" a\"  25.00%");
  EXPECT_EQ(lines[4].trimmed(), QString::fromUtf8("\"↵\"  12.50%"));  // white space made visible
  const QString second = view.candidates_text(1);
  EXPECT_TRUE(second.contains("\" cat\"  50.00%"));
  EXPECT_TRUE(second.contains("\" dog\"  50.00%"));
  EXPECT_TRUE(view.candidates_text(2).isEmpty());
  EXPECT_TRUE(view.candidates_text(-1).isEmpty());
}

TEST(GenerateView, ButtonsEmitTheirSignals) {
  GenerateView view;
  auto* generate = child<QPushButton>(view, "generate_button");
  auto* stop = child<QPushButton>(view, "stop_button");
  EXPECT_FALSE(generate->isEnabled());  // no model yet
  EXPECT_FALSE(stop->isEnabled());
  view.set_model_description("tiny");
  EXPECT_TRUE(generate->isEnabled());

  QString requested_prompt;
  GenerationRequest requested;
  int generate_signals = 0, stop_signals = 0, use_training = 0;
  QStringList load_dirs;
  QObject::connect(&view, &GenerateView::generate_requested, [&](const QString& p, const GenerationRequest& r) {
    requested_prompt = p;
    requested = r;
    ++generate_signals;
  });
  QObject::connect(&view, &GenerateView::stop_requested, [&] { ++stop_signals; });
  QObject::connect(&view, &GenerateView::use_training_model_requested, [&] { ++use_training; });
  QObject::connect(&view, &GenerateView::load_model_requested, [&](const QString& dir) { load_dirs << dir; });

  // An empty prompt is refused in the view.
  generate->click();
  EXPECT_EQ(generate_signals, 0);
  EXPECT_TRUE(view.status_text().contains("prompt"));

  child<QSlider>(view, "top_k_slider")->setValue(3);
  view.set_prompt("Once");
  generate->click();
  EXPECT_EQ(generate_signals, 1);
  EXPECT_EQ(requested_prompt, "Once");
  EXPECT_EQ(requested.top_k, 3);
  EXPECT_FALSE(generate->isEnabled());
  EXPECT_TRUE(stop->isEnabled());
  stop->click();
  EXPECT_EQ(stop_signals, 1);
  view.show_error("No model is loaded");
  EXPECT_EQ(view.status_text(), "No model is loaded");
  EXPECT_TRUE(generate->isEnabled());
  EXPECT_FALSE(stop->isEnabled());

  child<QPushButton>(view, "use_training_model_button")->click();
  EXPECT_EQ(use_training, 1);
  QString chosen = "/models/tiny";
  view.set_directory_chooser([&] { return chosen; });
  child<QPushButton>(view, "load_model_button")->click();
  chosen.clear();  // cancelled: nothing asked
  child<QPushButton>(view, "load_model_button")->click();
  EXPECT_EQ(load_dirs, QStringList{"/models/tiny"});
  view.set_model_description("tiny (/models/tiny): 1.2M parameters");
  EXPECT_TRUE(child<QLabel>(view, "model_label")->text().contains("1.2M parameters"));
}

TEST(GenerateView, ChatModeKeepsTheHistory) {
  GenerateView view;
  view.set_model_description("sft");
  EXPECT_FALSE(child<QPushButton>(view, "clear_history_button")->isVisibleTo(&view));  // completion: no history
  view.set_chat_mode(true);
  EXPECT_TRUE(child<QPushButton>(view, "clear_history_button")->isVisibleTo(&view));
  EXPECT_EQ(child<QComboBox>(view, "mode_box")->currentIndex(), 1);
  GenerationRequest requested;
  QString message;
  QObject::connect(&view, &GenerateView::generate_requested, [&](const QString& p, const GenerationRequest& r) {
    message = p;
    requested = r;
  });
  view.set_prompt("Hi");
  child<QPushButton>(view, "generate_button")->click();
  EXPECT_EQ(message, "Hi");
  EXPECT_TRUE(requested.chat);
  EXPECT_TRUE(requested.history.empty());
  EXPECT_TRUE(view.prompt().isEmpty());  // sent
  view.append_token(1, "Hel", {});
  view.append_token(2, "lo", {});
  view.finish("end of text", 30);
  const std::vector<ChatTurn> expected = {{"user", "Hi"}, {"assistant", "Hello"}};
  EXPECT_EQ(view.history(), expected);
  EXPECT_TRUE(child<QTextEdit>(view, "output_edit")->toPlainText().contains("You: Hi\nModel: Hello"));

  view.set_prompt("Again");
  child<QPushButton>(view, "generate_button")->click();
  EXPECT_EQ(requested.history, expected);
  // A refused turn leaves the history as it was and gives the message back.
  view.show_error("Generation failed");
  EXPECT_EQ(view.history(), expected);
  EXPECT_EQ(view.prompt(), "Again");

  child<QPushButton>(view, "clear_history_button")->click();
  EXPECT_TRUE(view.history().empty());
  EXPECT_TRUE(view.request().history.empty());
  EXPECT_EQ(view.token_count(), 0);
}

}  // namespace
}  // namespace minimind
