// Reference: the sequence of events published, compared with what each subscriber received (order, count,
// which snapshots survive). Slow consumers are made slow deterministically with a gate the test opens.
#include "train/event_stream.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace minimind {
namespace {

// A consumer blocks in its callback until the test opens the gate.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    opened_cv_.wait(lock, [this] { return open_; });
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    opened_cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_cv_;
  bool open_ = false;
};

// Collects what a subscriber receives; read it after close()/unsubscribe() (which join the thread).
struct Received {
  std::vector<std::string> types;
  std::vector<int64_t> steps;
};

EventStream::Callback recorder(Received& received, Gate* gate = nullptr) {
  return [&received, gate](const Event& event) {
    if (gate) gate->wait();
    received.types.emplace_back(event_type(event));
    received.steps.push_back(event_step(event));
  };
}

Event mixed_event(int64_t i) {
  switch (i % 4) {
    case 0:
      return StepMetrics{.step = i};
    case 1:
      return ValidationResult{.step = i};
    case 2:
      return Warning{.step = i, .message = "w"};
    default:
      return SampleText{.step = i};
  }
}

TEST(EventStream, EachSubscriberReceivesEveryEventInOrder) {
  Received first, second;
  EventStream stream;
  stream.subscribe(recorder(first));
  stream.publish(StepMetrics{.step = -1});  // before the second subscribes: only the first sees it
  stream.subscribe(recorder(second));
  for (int64_t i = 0; i < 1000; ++i) stream.publish(mixed_event(i));
  stream.close();
  ASSERT_EQ(first.steps.size(), 1001u);
  ASSERT_EQ(second.steps.size(), 1000u);
  EXPECT_EQ(first.steps[0], -1);
  for (int64_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(first.steps[i + 1], i);
    EXPECT_EQ(second.steps[i], i);
    EXPECT_EQ(second.types[i], event_type(mixed_event(i)));
  }
}

TEST(EventStream, PublishReturnsWhileTheConsumerIsBlockedAndNoMetricIsDropped) {
  Gate gate;
  Received received;
  EventStream stream;
  stream.subscribe(recorder(received, &gate));
  auto publishing = std::async(std::launch::async, [&] {
    for (int64_t i = 0; i < 10000; ++i) stream.publish(StepMetrics{.step = i});
  });
  // The consumer cannot finish before the gate opens, so publishing must complete first.
  const bool published = publishing.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  gate.open();
  ASSERT_TRUE(published) << "publish() waited for a blocked consumer";
  stream.close();
  ASSERT_EQ(received.steps.size(), 10000u);
  for (int64_t i = 0; i < 10000; ++i) ASSERT_EQ(received.steps[i], i);
}

TEST(EventStream, LaggingConsumerGetsOnlyTheLatestHeavySnapshot) {
  Gate gate;
  Received received;
  EventStream stream;
  stream.subscribe(recorder(received, &gate));
  stream.publish(Warning{.step = 0});  // the consumer blocks on this one (or before it)
  for (int64_t step = 1; step <= 5; ++step) {
    stream.publish(AttentionMaps{.step = step, .weights = std::vector<float>(1000, 0.5f)});
    stream.publish(StepMetrics{.step = step});
    stream.publish(RopeTable{.step = step});
  }
  stream.publish(StepMetrics{.step = 6});
  gate.open();
  stream.close();
  // Every metric arrives; of the snapshots only the step-5 ones, in their place in the order.
  const std::vector<std::string> expected_types = {"warning",      "step_metrics", "step_metrics",
                                                   "step_metrics", "step_metrics", "attention_maps",
                                                   "step_metrics", "rope_table",   "step_metrics"};
  const std::vector<int64_t> expected_steps = {0, 1, 2, 3, 4, 5, 5, 5, 6};
  EXPECT_EQ(received.types, expected_types);
  EXPECT_EQ(received.steps, expected_steps);
}

TEST(EventStream, SnapshotsAreAllDeliveredToAConsumerThatKeepsUp) {
  Received received;
  std::atomic<int64_t> delivered{0};
  EventStream stream;
  stream.subscribe([&](const Event& event) {
    received.steps.push_back(event_step(event));
    delivered.fetch_add(1);
  });
  for (int64_t step = 0; step < 3; ++step) {
    stream.publish(RopeTable{.step = step});
    // Wait until delivered: this consumer never lags, so nothing may be dropped.
    for (int spin = 0; spin < 2000 && delivered.load() <= step; ++spin) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  stream.close();
  EXPECT_EQ(received.steps, (std::vector<int64_t>{0, 1, 2}));
}

TEST(EventStream, CloseDrainsSlowConsumers) {
  Received received;
  EventStream stream;
  stream.subscribe([&](const Event& event) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    received.steps.push_back(event_step(event));
  });
  for (int64_t i = 0; i < 500; ++i) stream.publish(mixed_event(i));
  stream.close();
  EXPECT_EQ(received.steps.size(), 500u);
  stream.publish(StepMetrics{.step = 9999});  // ignored after close
  stream.close();                             // idempotent
  EXPECT_EQ(received.steps.size(), 500u);
}

TEST(EventStream, UnsubscribeDrainsThatSubscriberOnly) {
  Received kept, removed;
  EventStream stream;
  stream.subscribe(recorder(kept));
  const auto id = stream.subscribe(recorder(removed));
  for (int64_t i = 0; i < 100; ++i) stream.publish(StepMetrics{.step = i});
  stream.unsubscribe(id);
  EXPECT_EQ(removed.steps.size(), 100u);
  stream.publish(StepMetrics{.step = 100});
  stream.close();
  EXPECT_EQ(kept.steps.size(), 101u);
  EXPECT_EQ(removed.steps.size(), 100u);
}

TEST(EventStream, ThrowingCallbackIsCountedAndDeliveryGoesOn) {
  Received received;
  EventStream stream;
  stream.subscribe([&](const Event& event) {
    if (event_step(event) == 1) throw std::runtime_error("consumer failed");
    received.steps.push_back(event_step(event));
  });
  for (int64_t i = 0; i < 3; ++i) stream.publish(StepMetrics{.step = i});
  stream.close();
  EXPECT_EQ(received.steps, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(stream.failed_callbacks(), 1);
}

}  // namespace
}  // namespace minimind
