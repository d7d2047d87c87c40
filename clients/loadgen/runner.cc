#include "clients/loadgen/runner.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "clients/loadgen/loadgen_options.h"

namespace junction::loadgen {
namespace {

int64_t SecondsToNs(double s) { return static_cast<int64_t>(s * 1e9); }

void SleepUntilNs(int64_t when_ns) {
  const int64_t left = when_ns - NowNs();
  if (left > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(left));
}

// The requests a run has released (arrived) and the workers that take them.
class ArrivalQueue {
 public:
  void Push(int index) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(index);
    }
    ready_.notify_one();
  }
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }
  // The next arrived request, or -1 once closed and empty.
  int Pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return closed_ || !queue_.empty(); });
    if (queue_.empty()) return -1;
    const int index = queue_.front();
    queue_.pop_front();
    return index;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<int> queue_;
  bool closed_ = false;
};

struct Progress {
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  std::atomic<int> in_flight{0};
};

void DrawProgress(const Progress& p, int total, int64_t start_ns, const std::string& label) {
  constexpr int kWidth = 30;
  const int done = p.done.load();
  const int filled = total > 0 ? done * kWidth / total : kWidth;
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r\033[K%s [%s] %d/%d  in flight %d  errors %d  %.1fs", label.c_str(),
               bar.c_str(), done, total, p.in_flight.load(), p.failed.load(),
               static_cast<double>(NowNs() - start_ns) / 1e9);
  std::fflush(stderr);
}

// Sends `count` warm-up requests at once (at most `workers` in flight); records nothing.
void RunWarmup(Target& target, const Workload& workload, const RunPlan& plan, int workers) {
  if (plan.warmup == 0) return;
  StopSignal stop;
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < std::min(workers, plan.warmup); ++w) {
    threads.emplace_back([&] {
      for (int i; (i = next++) < plan.warmup;) {
        const RequestSpec spec = workload.Make(-1 - i);
        target.Send(spec, NowNs() + SecondsToNs(plan.request_timeout_s), stop);
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace

RunOutcome RunLoad(Target& target, const Workload& workload, const RunPlan& plan) {
  const int workers = std::min(plan.concurrency > 0 ? plan.concurrency : kMaxInFlight,
                               std::max(plan.num_requests, 1));
  RunWarmup(target, workload, plan, workers);

  const std::vector<double> arrivals =
      ArrivalTimes(plan.num_requests, plan.rate, plan.burstiness, plan.seed);
  std::vector<RequestRecord> records(plan.num_requests);
  std::vector<char> sent(plan.num_requests, 0);  // not vector<bool>: workers write it
  ArrivalQueue queue;
  StopSignal stop;
  Progress progress;
  const int64_t start_ns = NowNs();
  const int64_t issue_until_ns = start_ns + SecondsToNs(plan.duration_s);
  const int64_t hard_stop_ns = issue_until_ns + SecondsToNs(plan.request_timeout_s);

  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (int index; (index = queue.Pop()) >= 0;) {
        // A request still queued when issuing time is over is not sent.
        if (NowNs() >= issue_until_ns || stop.stopped()) continue;
        const RequestSpec spec = workload.Make(index);
        ++progress.in_flight;
        const int64_t deadline =
            std::min(NowNs() + SecondsToNs(plan.request_timeout_s), hard_stop_ns);
        records[index] = target.Send(spec, deadline, stop);
        sent[index] = 1;
        --progress.in_flight;
        if (!records[index].ok) ++progress.failed;
        ++progress.done;
      }
    });
  }
  // The hard stop and the progress bar share one watcher thread.
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    while (!finished.load()) {
      if (NowNs() >= hard_stop_ns) stop.Stop();
      if (plan.progress) DrawProgress(progress, plan.num_requests, start_ns, plan.label);
      std::this_thread::sleep_for(std::chrono::milliseconds(plan.progress ? 200 : 20));
    }
  });
  for (int i = 0; i < plan.num_requests; ++i) {
    const int64_t arrival_ns = start_ns + SecondsToNs(arrivals[i]);
    if (arrival_ns >= issue_until_ns) break;
    SleepUntilNs(arrival_ns);
    queue.Push(i);
  }
  queue.Close();
  for (std::thread& t : threads) t.join();
  finished.store(true);
  watcher.join();
  if (plan.progress) std::fprintf(stderr, "\r\033[K");

  RunOutcome outcome;
  for (int i = 0; i < plan.num_requests; ++i) {
    if (sent[i])
      outcome.records.push_back(std::move(records[i]));
    else
      ++outcome.not_sent;
  }
  return outcome;
}

}  // namespace junction::loadgen
