// EventStream carries a run's events from the training thread to its subscribers. publish() only copies
// the event into each subscriber's queue: every subscriber has its own thread that calls its callback, so
// a slow consumer (a chart, a log writer on a slow disk) never slows training.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "train/events.h"

namespace minimind {

class EventStream {
 public:
  using Callback = std::function<void(const Event&)>;
  using SubscriptionId = uint64_t;

  EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;
  ~EventStream();  // close()

  // Starts a thread that calls `callback` for each event published from now on, in publish order. Events
  // other than heavy snapshots (is_heavy_snapshot) are queued without bound and never dropped; of the
  // heavy ones still waiting, only the latest of each kind is delivered, at its own place in the order.
  // An exception thrown by the callback is caught and counted (failed_callbacks) and delivery goes on.
  SubscriptionId subscribe(Callback callback);

  // Delivers what that subscriber still has queued, then stops its thread. Call it from outside that
  // subscriber's callback. Unknown ids are ignored.
  void unsubscribe(SubscriptionId id);

  // Thread-safe; never waits for a callback. Ignored after close().
  void publish(Event event);

  // Delivers every queued event to every subscriber, then joins their threads. Idempotent.
  void close();

  int64_t failed_callbacks() const;

 private:
  struct Subscriber;

  mutable std::mutex mutex_;  // guards subscribers_, next_id_, closed_
  std::map<SubscriptionId, std::unique_ptr<Subscriber>> subscribers_;
  SubscriptionId next_id_ = 1;
  bool closed_ = false;
  std::atomic<int64_t> failed_callbacks_{0};  // outlives the subscribers: close() runs in the destructor
};

}  // namespace minimind
