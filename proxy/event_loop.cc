#include "proxy/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fmt/format.h"

namespace xfr {
namespace {
constexpr unsigned kTagWake = 1;
// Upper bound on one wait so a loop notices Stop() set by a timer or a
// handler promptly even when nothing else happens.
constexpr absl::Duration kMaxWait = absl::Milliseconds(500);
}  // namespace

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(unsigned ring_entries) {
  std::unique_ptr<EventLoop> loop(new EventLoop());
  auto ring = Ring::Create(ring_entries);
  if (!ring.ok()) return ring.status();
  loop->ring_ = std::move(*ring);
  loop->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (loop->wake_fd_ < 0) {
    return absl::InternalError(fmt::format("eventfd: {}", std::strerror(errno)));
  }
  loop->ArmWake();
  return loop;
}

EventLoop::~EventLoop() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void EventLoop::ArmWake() {
  ring_->Read(wake_fd_, &wake_buf_, sizeof wake_buf_, this, kTagWake);
}

void EventLoop::OnCompletion(const Event& e) {
  if (e.tag != kTagWake) return;
  std::vector<std::function<void()>> work;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
  if (e.res != -ECANCELED) ArmWake();
}

void EventLoop::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  // A full counter still wakes the reader; nothing to do on EAGAIN.
  (void)!::write(wake_fd_, &one, sizeof one);
}

void EventLoop::Run() {
  while (!stopping_) {
    now_ = absl::Now();
    absl::Duration wait = timers_.NextDeadline() - now_;
    if (wait > kMaxWait) wait = kMaxWait;
    ring_->Wait(wait);
    now_ = absl::Now();
    timers_.RunDue(now_);
  }
}

}  // namespace xfr
