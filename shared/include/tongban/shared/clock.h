// The clock seam: services ask a Clock for the time so tests can move it.
//
// Thread safety: SystemClock is stateless; ManualClock's set/advance and now() are atomic.
#pragma once

#include <atomic>
#include <chrono>

#include "tongban/shared/calendar.h"

namespace tongban {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp now() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// The system clock moved by a fixed offset: a site whose clock is wrong (tests of clock
// skew run real nodes hours apart).
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(Timestamp offset_seconds) : offset_(offset_seconds) {}
  Timestamp now() const override { return system_.now() + offset_; }

 private:
  SystemClock system_;
  Timestamp offset_;
};

// A clock that only moves when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp t) : t_(t) {}
  Timestamp now() const override { return t_.load(); }
  void set(Timestamp t) { t_.store(t); }
  void advance_days(int days) { t_.fetch_add(static_cast<Timestamp>(days) * 86400); }

 private:
  std::atomic<Timestamp> t_;
};

}  // namespace tongban
