// EventStream (see event_stream.h). Each subscriber's queue holds metric-like events themselves and, for a
// heavy snapshot, only a marker: the snapshot waits in a one-per-kind slot, and a newer one replaces it and
// its marker, so the stale marker is skipped when popped. Delivery order is publish order either way.
#include "train/event_stream.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <optional>
#include <thread>
#include <vector>

namespace minimind {

struct EventStream::Subscriber {
  struct Pending {
    std::optional<Event> event;  // empty: a marker for the snapshot slot of `snapshot_kind`
    size_t snapshot_kind = 0;
    uint64_t sequence = 0;
  };

  Subscriber(Callback callback_in, std::atomic<int64_t>& failures_in)
      : callback(std::move(callback_in)),
        failures(failures_in),
        latest_snapshot(std::variant_size_v<Event>),
        latest_sequence(std::variant_size_v<Event>, 0) {
    worker = std::thread([this] { deliver_until_closed(); });
  }

  void push(Event event) {
    {
      std::lock_guard lock(mutex);
      ++sequence;
      if (is_heavy_snapshot(event)) {
        const size_t kind = event.index();
        latest_snapshot[kind] = std::move(event);
        latest_sequence[kind] = sequence;
        queue.push_back({std::nullopt, kind, sequence});
      } else {
        queue.push_back({std::move(event), 0, sequence});
      }
    }
    wake.notify_one();
  }

  void close_and_join() {
    {
      std::lock_guard lock(mutex);
      closing = true;
    }
    wake.notify_one();
    if (worker.joinable()) worker.join();
  }

  void deliver_until_closed() {
    while (true) {
      std::optional<Event> event;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [this] { return !queue.empty() || closing; });
        if (queue.empty()) return;  // closing and drained
        Pending pending = std::move(queue.front());
        queue.pop_front();
        if (pending.event) {
          event = std::move(pending.event);
        } else if (latest_sequence[pending.snapshot_kind] == pending.sequence) {
          event = std::move(latest_snapshot[pending.snapshot_kind]);
          latest_snapshot[pending.snapshot_kind].reset();
        } else {
          continue;  // superseded by a newer snapshot further down the queue
        }
      }
      try {
        callback(*event);
      } catch (...) {
        failures.fetch_add(1);
      }
    }
  }

  Callback callback;
  std::atomic<int64_t>& failures;
  std::mutex mutex;  // guards everything below but `worker`
  std::condition_variable wake;
  std::deque<Pending> queue;
  std::vector<std::optional<Event>> latest_snapshot;  // by Event::index()
  std::vector<uint64_t> latest_sequence;
  uint64_t sequence = 0;
  bool closing = false;
  std::thread worker;  // started in the constructor's body, once every member exists
};

EventStream::EventStream() = default;
EventStream::~EventStream() {
  close();
}

EventStream::SubscriptionId EventStream::subscribe(Callback callback) {
  std::lock_guard lock(mutex_);
  const SubscriptionId id = next_id_++;
  if (closed_) return id;  // never receives anything
  subscribers_.emplace(id, std::make_unique<Subscriber>(std::move(callback), failed_callbacks_));
  return id;
}

void EventStream::unsubscribe(SubscriptionId id) {
  std::unique_ptr<Subscriber> subscriber;
  {
    std::lock_guard lock(mutex_);
    auto found = subscribers_.find(id);
    if (found == subscribers_.end()) return;
    subscriber = std::move(found->second);
    subscribers_.erase(found);
  }
  subscriber->close_and_join();  // outside the lock, so publish() goes on meanwhile
}

void EventStream::publish(Event event) {
  std::lock_guard lock(mutex_);
  if (closed_ || subscribers_.empty()) return;
  auto last = std::prev(subscribers_.end());
  for (auto it = subscribers_.begin(); it != last; ++it) it->second->push(event);
  last->second->push(std::move(event));
}

void EventStream::close() {
  std::map<SubscriptionId, std::unique_ptr<Subscriber>> subscribers;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    subscribers.swap(subscribers_);
  }
  for (auto& [id, subscriber] : subscribers) subscriber->close_and_join();
}

int64_t EventStream::failed_callbacks() const {
  return failed_callbacks_.load();
}

}  // namespace minimind
