// gbench_shim.cc — see gbench_shim.h.  The only C++ in the harness.
#include "gbench_shim.h"

#include <benchmark/benchmark.h>

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <cmath>
#include <cstring>
#include <memory>
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

// Sets each run's "threads" to what the benchmark runs itself (threads_of)
// and hands the runs on to the library's own reporter (display or file), so
// console, JSON and CSV say the threads truly; names are left as they are.
class ThreadsReporter : public benchmark::BenchmarkReporter {
  public:
    ThreadsReporter(benchmark::BenchmarkReporter *inner, mbb_threads_fn threads_of, void *ud)
        : inner_(inner), threads_of_(threads_of), ud_(ud) {}
    bool ReportContext(const Context &c) override {
        // the library points this reporter's streams (the --benchmark_out
        // file); the inner one writes where this one was pointed
        inner_->SetOutputStream(&GetOutputStream());
        inner_->SetErrorStream(&GetErrorStream());
        return inner_->ReportContext(c);
    }
    void ReportRuns(const std::vector<Run> &runs) override {
        std::vector<Run> told(runs);
        for (Run &r : told)
            if (threads_of_)
                r.threads = threads_of_(ud_, r.run_name.function_name.c_str());
        inner_->ReportRuns(told);
    }
    void Finalize() override { inner_->Finalize(); }

  private:
    benchmark::BenchmarkReporter *inner_;
    mbb_threads_fn threads_of_;
    void *ud_;
};

// The library's file reporter for --benchmark_out_format (json by default),
// or nullptr for a format it does not know (the library then refuses it).
std::unique_ptr<benchmark::BenchmarkReporter> file_reporter_for(const char *format)
{
    std::string f = format ? format : "json";
    if (f == "json")
        return std::unique_ptr<benchmark::BenchmarkReporter>(new benchmark::JSONReporter);
    if (f == "console")
        return std::unique_ptr<benchmark::BenchmarkReporter>(
            new benchmark::ConsoleReporter(benchmark::ConsoleReporter::OO_None));
    if (f == "csv") {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        return std::unique_ptr<benchmark::BenchmarkReporter>(new benchmark::CSVReporter);
#pragma GCC diagnostic pop
    }
    return nullptr;
}

// Returns the value of --NAME=VALUE in arg, or nullptr.
const char *flag_value(const char *arg, const char *name)
{
    size_t n = std::strlen(name);
    return std::strncmp(arg, name, n) == 0 && arg[n] == '=' ? arg + n + 1 : nullptr;
}

} // namespace

extern "C" {

void mbb_register(const char *name, mbb_fn fn, void *ctx, int64_t iterations, int repetitions,
                  int process_cpu)
{
    auto *b = benchmark::RegisterBenchmark(name, [fn, ctx](benchmark::State &st) {
        mbb_state s{&st};
        fn(&s, ctx);
    });
    b->Iterations(iterations)->UseManualTime()->Unit(benchmark::kNanosecond);
    if (repetitions > 0) // else --benchmark_repetitions decides, and the name has no repeats:R
        b->Repetitions(repetitions);
    if (process_cpu) // the name stays as it is (MeasureProcessCPUTime adds nothing to it)
        b->MeasureProcessCPUTime();
}

int mbb_keep_running(mbb_state *s) { return s->st->KeepRunning() ? 1 : 0; }

void mbb_set_iteration_time(mbb_state *s, double seconds) { s->st->SetIterationTime(seconds); }

void mbb_pause_timing(mbb_state *s) { s->st->PauseTiming(); }

void mbb_resume_timing(mbb_state *s) { s->st->ResumeTiming(); }

void mbb_set_items_processed(mbb_state *s, int64_t items) { s->st->SetItemsProcessed(items); }

void mbb_set_counter(mbb_state *s, const char *name, double value)
{
    s->st->counters[name] = benchmark::Counter(value, benchmark::Counter::kAvgIterations);
}

void mbb_skip_with_error(mbb_state *s, const char *msg) { s->st->SkipWithError(msg); }

void mbb_initialize(int *argc, char **argv, mbb_flags *flags)
{
    flags->out_file = flags->out_format = nullptr;
    for (int i = 1; i < *argc; i++) { // the last one wins, as in the library
        if (const char *v = flag_value(argv[i], "--benchmark_out"))
            flags->out_file = v;
        if (const char *v = flag_value(argv[i], "--benchmark_out_format"))
            flags->out_format = v;
    }
    benchmark::Initialize(argc, argv);
}

int64_t mbb_run(const mbb_flags *flags, mbb_report_fn report, mbb_threads_fn threads_of, void *ud)
{
    // a file reporter may be passed only with --benchmark_out (the library
    // refuses one without it)
    std::unique_ptr<benchmark::BenchmarkReporter> file_inner;
    std::unique_ptr<ThreadsReporter> file;
    if (flags->out_file && *flags->out_file && (file_inner = file_reporter_for(flags->out_format)))
        file.reset(new ThreadsReporter(file_inner.get(), threads_of, ud));
    if (!report) {
        ThreadsReporter display(benchmark::CreateDefaultDisplayReporter(), threads_of, ud);
        return int64_t(benchmark::RunSpecifiedBenchmarks(&display, file.get()));
    }
    ForwardingReporter fwd(report, ud);
    return int64_t(benchmark::RunSpecifiedBenchmarks(&fwd, file.get()));
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
