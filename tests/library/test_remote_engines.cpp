// The remote engines the user adds (library/remote_engines.h) and the
// figures read from their /metrics (library/engine_metrics.h): addresses as
// people type them, the list kept across restarts with each key in an
// owner-only file and nowhere else, a damaged list said and left alone, and
// the Prometheus text of vLLM, SGLang, llama-server and our own server read
// into the panel's figures — hostile text bounded and never a crash.
#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

#include "library/engine_metrics.h"
#include "library/remote_engines.h"

using namespace eg::library;

namespace {

QByteArray read_all(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

}  // namespace

class TestRemoteEngines : public QObject {
    Q_OBJECT

private slots:
    void addresses_as_people_type_them_data() {
        QTest::addColumn<QString>("typed");
        QTest::addColumn<QString>("expected");  // "" : refused
        QTest::newRow("host:port") << "gpu-box:8000" << "http://gpu-box:8000/v1";
        QTest::newRow("with scheme") << "http://10.0.0.5:30000" << "http://10.0.0.5:30000/v1";
        QTest::newRow("already /v1") << "http://localhost:8080/v1" << "http://localhost:8080/v1";
        QTest::newRow("trailing slashes") << "  https://api.example.com/v1//  " << "https://api.example.com/v1";
        QTest::newRow("a prefix path") << "https://proxy.example.com/llm" << "https://proxy.example.com/llm/v1";
        QTest::newRow("upper-case scheme") << "HTTP://box:1234" << "http://box:1234/v1";
        QTest::newRow("empty") << "   " << "";
        QTest::newRow("ftp") << "ftp://box/v1" << "";
        QTest::newRow("no host") << "http:///v1" << "";
        QTest::newRow("key in the address") << "http://user:sk-secret@box:8000" << "";
        QTest::newRow("query") << "http://box:8000/v1?x=1" << "";
        QTest::newRow("bad port") << "http://box:99999" << "";
    }
    void addresses_as_people_type_them() {
        QFETCH(QString, typed);
        QFETCH(QString, expected);
        const auto url = parse_engine_url(typed);
        if (expected.isEmpty()) {
            QVERIFY2(!url, qPrintable(typed));
            QVERIFY(!url.message().empty());
            if (typed.contains(QLatin1String("sk-secret"))) QVERIFY(!QString::fromStdString(url.message()).contains("sk-secret"));
        } else {
            QVERIFY2(url, url ? "" : url.message().c_str());
            QCOMPARE(url->toString(), expected);
        }
    }

    void model_references_round_trip() {
        const QString ref = remote_model_ref(QStringLiteral("abc123"), QStringLiteral("deepseek-ai/DeepSeek-V4.1-Flash"));
        QVERIFY(is_remote_model_ref(ref));
        QVERIFY(!is_remote_model_ref(QStringLiteral("/home/me/models/remote:x.gguf")));
        const auto back = parse_remote_model_ref(ref);
        QVERIFY(back);
        QCOMPARE(back->engine_id, QStringLiteral("abc123"));
        QCOMPARE(back->model, QStringLiteral("deepseek-ai/DeepSeek-V4.1-Flash"));
        QVERIFY(!parse_remote_model_ref(QStringLiteral("remote:abc123")));
        QVERIFY(!parse_remote_model_ref(QStringLiteral("remote:/model")));
        QVERIFY(!parse_remote_model_ref(QStringLiteral("remote:abc/")));
    }

    // Added, kept across a restart, the key only in its 0600 file, removed with it.
    void the_list_survives_a_restart_and_keeps_keys_apart() {
        QTemporaryDir dir;
        RemoteEngineList list(dir.path());
        QVERIFY(list.load().ok());
        QVERIFY(list.engines().isEmpty());
        const auto a = list.add(QUrl(QStringLiteral("http://gpu-box:8000")), QStringLiteral("sk-very-secret"),
                                {QStringLiteral("deepseek-v4.1-flash")});
        QVERIFY2(a, a ? "" : a.message().c_str());
        const auto b = list.add(QUrl(QStringLiteral("http://127.0.0.1:8080/v1")), {}, {QStringLiteral("m1"), QStringLiteral("m2")});
        QVERIFY(b);
        QVERIFY(a->has_key && !b->has_key);
        QCOMPARE(a->label(), QStringLiteral("gpu-box:8000"));

        // The key is in its own file, owner-only, and not in the list.
        const QFileInfo key(list.key_path(a->id));
        QVERIFY(key.exists());
        QCOMPARE(key.permissions() & (QFile::ReadGroup | QFile::ReadOther | QFile::WriteGroup | QFile::WriteOther),
                 QFile::Permissions());
        QVERIFY(!read_all(list.file_path()).contains("sk-very-secret"));

        RemoteEngineList again(dir.path());
        QVERIFY(again.load().ok());
        QCOMPARE(again.engines().size(), 2);
        QCOMPARE(again.engines()[0].base_url.toString(), QStringLiteral("http://gpu-box:8000/v1"));
        QCOMPARE(again.engines()[1].models, (QStringList{QStringLiteral("m1"), QStringLiteral("m2")}));
        QCOMPARE(again.api_key(a->id).value(), QStringLiteral("sk-very-secret"));
        QCOMPARE(again.api_key(b->id).value(), QString());

        // The same address again updates it (and an empty key drops the old one).
        const auto a2 = again.add(QUrl(QStringLiteral("gpu-box:8000/v1/")), {}, {QStringLiteral("other")});
        QVERIFY(a2);
        QCOMPARE(a2->id, a->id);
        QCOMPARE(again.engines().size(), 2);
        QVERIFY(!QFile::exists(again.key_path(a->id)));

        QVERIFY(again.remove(b->id).ok());
        QVERIFY(!again.remove(b->id).ok());
        RemoteEngineList third(dir.path());
        QVERIFY(third.load().ok());
        QCOMPARE(third.engines().size(), 1);
        QCOMPARE(third.engines()[0].models, QStringList{QStringLiteral("other")});
    }

    // A key file others can read is refused, not used.
    void a_key_others_can_read_is_not_used() {
        QTemporaryDir dir;
        RemoteEngineList list(dir.path());
        const auto a = list.add(QUrl(QStringLiteral("http://box:1")), QStringLiteral("sk-1"), {QStringLiteral("m")});
        QVERIFY(a);
        QFile::setPermissions(list.key_path(a->id), QFile::ReadOwner | QFile::WriteOwner | QFile::ReadOther);
        const auto key = list.api_key(a->id);
        QVERIFY(!key);
        QVERIFY2(QString::fromStdString(key.message()).contains(QLatin1String("chmod 600")), key.message().c_str());
    }

    // A damaged list: an error naming the file; nothing shown; the file left as it was.
    void a_damaged_list_is_said_and_left_alone() {
        QTemporaryDir dir;
        RemoteEngineList list(dir.path());
        QFile f(list.file_path());
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"engines\": [ {\"url\": \"http://a:1/v1\"");
        f.close();
        const eg::Status s = list.load();
        QVERIFY(!s.ok());
        QVERIFY2(QString::fromStdString(s.message()).contains(list.file_path()), s.message().c_str());
        QVERIFY(list.engines().isEmpty());
        QCOMPARE(read_all(list.file_path()), QByteArray("{\"engines\": [ {\"url\": \"http://a:1/v1\""));

        // Entries that are not engines are skipped, the rest kept.
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write("{\"engines\": [{\"url\": \"ftp://x\"}, {\"url\": 5}, {\"url\": \"http://ok:2\", \"models\": [\"a\", 3, \"\"]}]}");
        f.close();
        QVERIFY(list.load().ok());
        QCOMPARE(list.engines().size(), 1);
        QCOMPARE(list.engines()[0].models, QStringList{QStringLiteral("a")});
    }

    // --- /metrics ---------------------------------------------------------

    void prometheus_text_is_read_data() {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("engine");
        QTest::addColumn<double>("running");
        QTest::addColumn<double>("waiting");
        QTest::addColumn<double>("kv");  // -1: not published
        QTest::addColumn<double>("tps");
        QTest::addColumn<double>("generated");
        // As vLLM 0.9–0.11 writes it (two models served: summed).
        QTest::newRow("vllm") << QByteArray(
            "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
            "# TYPE vllm:num_requests_running gauge\n"
            "vllm:num_requests_running{engine=\"0\",model_name=\"deepseek-ai/DeepSeek-V4.1-Flash\"} 3.0\n"
            "vllm:num_requests_running{engine=\"1\",model_name=\"deepseek-ai/DeepSeek-V4.1-Flash\"} 1.0\n"
            "vllm:num_requests_waiting{engine=\"0\",model_name=\"deepseek-ai/DeepSeek-V4.1-Flash\"} 2.0\n"
            "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"deepseek-ai/DeepSeek-V4.1-Flash\"} 0.4375\n"
            "# TYPE vllm:generation_tokens_total counter\n"
            "vllm:generation_tokens_total{engine=\"0\",model_name=\"deepseek-ai/DeepSeek-V4.1-Flash\"} 123456.0\n"
            "vllm:prompt_tokens_total{engine=\"0\",model_name=\"deepseek-ai/DeepSeek-V4.1-Flash\"} 9.8e+05\n"
            "vllm:time_to_first_token_seconds_bucket{le=\"+Inf\",model_name=\"x\"} 17\n")
            << "vLLM" << 4.0 << 2.0 << 0.4375 << -1.0 << 123456.0;
        QTest::newRow("sglang") << QByteArray(
            "# HELP sglang:num_running_reqs The number of running requests.\n"
            "sglang:num_running_reqs{model_name=\"DeepSeek-V4.1-Flash\",tp_rank=\"0\"} 7.0\n"
            "sglang:num_queue_reqs{model_name=\"DeepSeek-V4.1-Flash\",tp_rank=\"0\"} 0.0\n"
            "sglang:token_usage{model_name=\"DeepSeek-V4.1-Flash\",tp_rank=\"0\"} 0.21\n"
            "sglang:gen_throughput{model_name=\"DeepSeek-V4.1-Flash\",tp_rank=\"0\"} 812.5\n"
            "sglang:generation_tokens_total{model_name=\"DeepSeek-V4.1-Flash\"} 5000\n")
            << "SGLang" << 7.0 << 0.0 << 0.21 << 812.5 << 5000.0;
        QTest::newRow("llama-server") << QByteArray(
            "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n"
            "# TYPE llamacpp:prompt_tokens_total counter\n"
            "llamacpp:prompt_tokens_total 412\n"
            "llamacpp:tokens_predicted_total 1200\n"
            "llamacpp:predicted_tokens_seconds 38.25\n"
            "llamacpp:kv_cache_usage_ratio 0.125\n"
            "llamacpp:requests_processing 1\n"
            "llamacpp:requests_deferred 0\n")
            << "llama.cpp server" << 1.0 << 0.0 << 0.125 << 38.25 << 1200.0;
        QTest::newRow("engram-desktop") << QByteArray(
            "# TYPE engram_requests_running gauge\nengram_requests_running 1\n"
            "engram_requests_waiting 3\nengram_completion_tokens_total 77\n"
            "engram_decode_tokens_per_second 95.5\n")
            << "Engram Desktop" << 1.0 << 3.0 << -1.0 << 95.5 << 77.0;
    }
    void prometheus_text_is_read() {
        QFETCH(QByteArray, text);
        QFETCH(QString, engine);
        QFETCH(double, running);
        QFETCH(double, waiting);
        QFETCH(double, kv);
        QFETCH(double, tps);
        QFETCH(double, generated);
        const ParsedMetrics m = parse_prometheus_text(text);
        QCOMPARE(m.skipped_lines, 0);
        const EngineFigures f = engine_figures(m);
        QCOMPARE(f.engine, engine);
        QCOMPARE(f.running.value_or(-1), running);
        QCOMPARE(f.waiting.value_or(-1), waiting);
        QCOMPARE(f.kv_cache_usage.value_or(-1), kv);
        QCOMPARE(f.tokens_per_s.value_or(-1), tps);
        QCOMPARE(f.generated_tokens_total.value_or(-1), generated);
    }

    void labels_escapes_and_special_values() {
        const ParsedMetrics m = parse_prometheus_text(
            "a{path=\"C:\\\\dir\\\\x\",msg=\"say \\\"hi\\\"\\n\",} 1.5 1712345678000\n"
            "b NaN\nc +Inf\nd -Inf\n  \n# a comment\r\ne{} 2\r\n");
        QCOMPARE(m.skipped_lines, 0);
        QCOMPARE((int)m.samples.size(), 5);
        QCOMPARE(m.samples[0].labels.size(), size_t(2));
        QCOMPARE(QString::fromStdString(m.samples[0].labels[0].second), QStringLiteral("C:\\dir\\x"));
        QCOMPARE(QString::fromStdString(m.samples[0].labels[1].second), QStringLiteral("say \"hi\"\n"));
        QCOMPARE(m.samples[0].value, 1.5);
        QVERIFY(std::isnan(m.samples[1].value));
        QVERIFY(std::isinf(m.samples[2].value) && m.samples[2].value > 0);
        QVERIFY(std::isinf(m.samples[3].value) && m.samples[3].value < 0);
        QCOMPARE(m.samples[4].name, std::string("e"));
        // Not an engine we know: no figures, no name.
        QVERIFY(engine_figures(m).engine.isEmpty());
    }

    // Lines that are not samples are skipped and counted; nothing crashes,
    // nothing past the bounds is read.
    void hostile_text_is_bounded() {
        const ParsedMetrics m = parse_prometheus_text(
            "1abc 2\nname{ 3\nname{a=\"x} 4\nname{a=x} 5\nname 1.2.3\nname\nname{a=\"b\"}\nname{a=\"b\"} 1 two\n"
            "name{=\"v\"} 1\nvllm:num_requests_running{a=\"\\\n");
        QCOMPARE((int)m.samples.size(), 0);
        QCOMPARE(m.skipped_lines, 10);
        QVERIFY(engine_figures(m).engine.isEmpty());

        QByteArray many;
        for (size_t i = 0; i < kMaxMetricsSamples + 10; ++i) many += "x 1\n";
        const ParsedMetrics capped = parse_prometheus_text(many);
        QVERIFY(capped.truncated);
        QCOMPARE(capped.samples.size(), kMaxMetricsSamples);

        QByteArray huge(kMaxMetricsBytes + 100, 'a');
        const ParsedMetrics big = parse_prometheus_text(huge);
        QVERIFY(big.truncated);
        QCOMPARE(big.samples.size(), size_t(0));
    }

    void engines_named_by_their_models_owner() {
        QCOMPARE(engine_from_owner(QStringLiteral("vllm")), QStringLiteral("vLLM"));
        QCOMPARE(engine_from_owner(QStringLiteral("sglang")), QStringLiteral("SGLang"));
        QCOMPARE(engine_from_owner(QStringLiteral("llamacpp")), QStringLiteral("llama.cpp server"));
        QCOMPARE(engine_from_owner(QStringLiteral("engram-desktop")), QStringLiteral("Engram Desktop"));
        QCOMPARE(engine_from_owner(QStringLiteral("me")), QString());
    }
};

QTEST_GUILESS_MAIN(TestRemoteEngines)
#include "test_remote_engines.moc"
