// The Engram decode path allocates nothing: once a sequence has run its
// prompt and a few steps, a decode step's lookups (hashing, the tiered
// store's request with its pooled batch, the I/O threads' reads, the policy,
// the hot-row counts) and the module's forward make no heap allocation, on
// any thread. Counted by replacing the global operator new; with the tables
// resident, partly resident and on the SSD alone, prefetch on and off, for
// both module forms.
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>

#include "core/thread_pool.h"
#include "engram_fixture.h"
#include "engram_model.h"
#include "test_env.h"

namespace {

std::atomic<bool> g_counting{false};
std::atomic<uint64_t> g_allocs{0};

void* counted_alloc(std::size_t n, std::size_t align) {
    if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
    if (n == 0) n = 1;
    void* p = nullptr;
    if (align > alignof(std::max_align_t)) {
        if (posix_memalign(&p, align, n) != 0) p = nullptr;
    } else {
        p = std::malloc(n);
    }
    if (!p) throw std::bad_alloc();
    return p;
}

}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n, 0); }
void* operator new[](std::size_t n) { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc(n, (std::size_t)a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc(n, (std::size_t)a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace eg;

class TestEngramAlloc : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string base_;

    std::string forge(const std::string& name, engram::Form form) {
        return eg_test::forge_engram(base_, dir_.filePath(QString::fromStdString(name)).toStdString(), form, {1, 15},
                                     form == engram::Form::V41 ? GgmlType::F16 : GgmlType::Q8_0);
    }

private slots:
    void initTestCase() {
        base_ = eg_test::default_model_path();
        if (!QFile::exists(QString::fromStdString(base_)))
            QFAIL(qPrintable(QString("default model missing at %1: run scripts/fetch-model.sh").arg(base_.c_str())));
        QVERIFY(dir_.isValid());
    }

    void decode_steps_allocate_nothing_data() {
        QTest::addColumn<int>("form");
        QTest::addColumn<QString>("budget");
        QTest::addColumn<bool>("prefetch");
        for (int form : {(int)engram::Form::V41, (int)engram::Form::Demo})
            for (const char* budget : {"100%", "5%", "0"})
                for (bool prefetch : {true, false}) {
                    const QString tag = QString("%1 budget %2 prefetch %3")
                                            .arg(form == (int)engram::Form::V41 ? "v41" : "demo", budget,
                                                 prefetch ? "on" : "off");
                    QTest::newRow(qPrintable(tag)) << form << QString(budget) << prefetch;
                }
    }

    void decode_steps_allocate_nothing() {
        QFETCH(int, form);
        QFETCH(QString, budget);
        QFETCH(bool, prefetch);
        const auto f = (engram::Form)form;
        const std::string path = f == engram::Form::V41 ? (v41_.empty() ? v41_ = forge("v41.gguf", f) : v41_)
                                                        : (demo_.empty() ? demo_ = forge("demo.gguf", f) : demo_);
        auto opt = engram::make_options(budget.toStdString(), "wtinylfu", prefetch, true, false);
        QVERIFY2(opt.ok(), opt.ok() ? "" : opt.message().c_str());
        auto m = engram::load_model(path, opt.value());
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        ModelExtension* ext = m.value()->extension();
        QVERIFY(ext);
        const int64_t n_embd = m.value()->hparams().n_embd, n_layer = m.value()->hparams().n_layer;
        const int64_t n_vocab = m.value()->hparams().n_vocab;
        std::vector<int64_t> layers;
        for (int64_t il = 0; il < n_layer; ++il)
            if (ext->has_layer(il)) layers.push_back(il);
        QCOMPARE((int)layers.size(), 2);

        const int64_t n_ctx = 512, n_prompt = 40, n_warm = 24, n_counted = 96;
        auto st = ext->new_state(n_ctx);
        ThreadPool pool(2);
        std::mt19937 rng(11);
        std::vector<int32_t> prompt((size_t)n_prompt);
        for (auto& t : prompt) t = (int32_t)(rng() % (uint32_t)n_vocab);
        std::vector<float> x((size_t)(n_prompt * n_embd));
        for (auto& v : x) v = (float)((int)(rng() % 2001) - 1000) * 1e-3f;

        // The prompt, one batch; then decode steps of one new token each.
        ext->prepare(*st, prompt.data(), n_prompt, 0);
        for (int64_t il : layers) QVERIFY(ext->apply(*st, il, x.data(), n_prompt, 0, pool, nullptr).ok());
        int64_t pos = n_prompt;
        auto step = [&]() -> Status {
            const int32_t tok = (int32_t)(rng() % (uint32_t)n_vocab);
            ext->prepare(*st, &tok, 1, pos);
            for (int64_t il : layers)
                if (auto s = ext->apply(*st, il, x.data(), 1, pos, pool, nullptr); !s) return s;
            ++pos;
            return {};
        };
        for (int i = 0; i < n_warm; ++i) QVERIFY(step().ok());

        const ExtensionStats before = ext->stats();
        g_allocs.store(0);
        g_counting.store(true);
        bool ok = true;
        for (int i = 0; i < n_counted && ok; ++i) ok = step().ok();
        g_counting.store(false);
        const uint64_t allocs = g_allocs.load();
        QVERIFY(ok);
        const ExtensionStats after = ext->stats();
        // The steps really looked rows up (each step: every module's rows of
        // the new position, less repeats), and below a whole-table budget
        // read some from the file.
        const uint64_t per_step = (uint64_t)ext->lookup_module(layers[0])->rows_per_token * layers.size();
        const uint64_t looked = after.lookups - before.lookups;
        QVERIFY2(looked > (uint64_t)n_counted && looked <= (uint64_t)n_counted * per_step,
                 qPrintable(QString("%1 rows looked up in %2 steps").arg(looked).arg(n_counted)));
        if (budget == "0") QVERIFY(after.rows_fetched > before.rows_fetched);
        qInfo("%lld decode steps: %llu allocations, %llu rows looked up, %llu read from the file", (long long)n_counted,
              (unsigned long long)allocs, (unsigned long long)(after.lookups - before.lookups),
              (unsigned long long)(after.rows_fetched - before.rows_fetched));
        QCOMPARE(allocs, uint64_t(0));
    }

private:
    std::string v41_, demo_;
};

QTEST_GUILESS_MAIN(TestEngramAlloc)
#include "test_engram_alloc.moc"
