// gbench_shim.cc — see gbench_shim.h.  The only C++ in the harness.
#include "gbench_shim.h"

#include <benchmark/benchmark.h>

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <cmath>
#include <string>
#include <vector>

struct mbb_state {
    benchmark::State *st;
};

namespace {

class ForwardingReporter : public benchmark::BenchmarkReporter {
  public:
    ForwardingReporter(mbb_report_fn fn, void *ud) : fn_(fn), ud_(ud) {}
    bool ReportContext(const Context &) override { return true; }
    void ReportRuns(const std::vector<Run> &runs) override {
        for (const Run &r : runs) {
            if (r.run_type != Run::RT_Iteration)
                continue; // aggregates are recomputed from every sample in SQL
            std::string name = r.benchmark_name();
            mbb_result out;
            out.name = name.c_str();
            out.repetition_index = r.repetition_index;
            out.iterations = r.iterations;
            out.real_seconds = r.real_accumulated_time;
            auto it = r.counters.find("ns_per_op");
            out.ns_per_op = it == r.counters.end() ? NAN : double(it->second);
            it = r.counters.find("ceiling_ns_per_op");
            out.ceiling_ns_per_op = it == r.counters.end() ? NAN : double(it->second);
            out.error = r.error_occurred ? r.error_message.c_str() : nullptr;
            fn_(ud_, &out);
        }
    }

  private:
    mbb_report_fn fn_;
    void *ud_;
};

} // namespace

extern "C" {

void mbb_register(const char *name, mbb_fn fn, void *ctx, int64_t iterations, int repetitions)
{
    auto *b = benchmark::RegisterBenchmark(name, [fn, ctx](benchmark::State &st) {
        mbb_state s{&st};
        fn(&s, ctx);
    });
    b->Iterations(iterations)->UseManualTime()->Unit(benchmark::kNanosecond);
    if (repetitions > 0) // else --benchmark_repetitions decides, and the name has no repeats:R
        b->Repetitions(repetitions);
}

int mbb_keep_running(mbb_state *s) { return s->st->KeepRunning() ? 1 : 0; }

void mbb_set_iteration_time(mbb_state *s, double seconds) { s->st->SetIterationTime(seconds); }

void mbb_set_items_processed(mbb_state *s, int64_t items) { s->st->SetItemsProcessed(items); }

void mbb_set_counter(mbb_state *s, const char *name, double value)
{
    s->st->counters[name] = benchmark::Counter(value, benchmark::Counter::kAvgIterations);
}

void mbb_skip_with_error(mbb_state *s, const char *msg) { s->st->SkipWithError(msg); }

void mbb_initialize(int *argc, char **argv) { benchmark::Initialize(argc, argv); }

int64_t mbb_run(mbb_report_fn report, void *ud)
{
    if (!report)
        return int64_t(benchmark::RunSpecifiedBenchmarks());
    ForwardingReporter fwd(report, ud);
    return int64_t(benchmark::RunSpecifiedBenchmarks(&fwd));
}

const char *mbb_version(void)
{
    // The version is the name of the shared object actually loaded
    // (libbenchmark.so.1.7.1); Debian builds that library as a debug build.
    static std::string v;
    if (v.empty()) {
        Dl_info info;
        char *real = nullptr;
        if (dladdr(reinterpret_cast<void *>(&benchmark::Shutdown), &info) && info.dli_fname)
            real = realpath(info.dli_fname, nullptr);
        std::string file = real ? real : "libbenchmark (unknown path)";
        free(real);
        v = file.substr(file.rfind('/') + 1) + " (Debian build: debug)";
    }
    return v.c_str();
}

} // extern "C"
