// Models other programs downloaded, as the Installed tab shows them: a fake
// home holds a Hugging Face cache (snapshot links into blobs/), an LM Studio
// folder, GPT4All's and Jan's folders and an Ollama store (a real manifest naming its
// model, template and params blobs), with real GGUFs — the committed tiny
// models and the default model as Ollama's blob. The real LibraryPage.qml,
// offscreen, lists each with its source; "Use" opens one in place (nothing
// is copied) and the engine chats with it; a file that goes is shown as
// missing, also at the next start, never an error; a folder the user adds is
// searched too.
#include <QCryptographicHash>
#include <QProcessEnvironment>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>

#include "library/other_apps.h"
#include "library_fixture.h"
#include "model/model.h"
#include "runtime/chat_session.h"
#include "runtime/session.h"
#include "test_env.h"

Q_IMPORT_QML_PLUGIN(EngramDesktopPlugin)

using eg::library::ScanPlace;

namespace {

const QString kTiny = QStringLiteral(EG_TESTS_DIR "/reference/arch/qwen2-tiny.gguf");
const QString kLlama = QStringLiteral(EG_TESTS_DIR "/reference/arch/llama3-tiny.gguf");
const QString kQwen3 = QStringLiteral(EG_TESTS_DIR "/reference/arch/qwen3-tiny.gguf");

bool write_file(const QString& path, const QByteArray& bytes) {
    QDir().mkpath(QFileInfo(path).absolutePath());
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size();
}

QString sha_hex(const QByteArray& b) { return QString::fromLatin1(QCryptographicHash::hash(b, QCryptographicHash::Sha256).toHex()); }

// The fake home, laid out as each program lays out its own.
struct FakeHome {
    QTemporaryDir dir;
    QString hf_file, lmstudio_file, gpt4all_file, jan_file, ollama_blob, ollama_template;

    bool build(const QString& ollama_model) {
        const QString home = dir.path();
        // Hugging Face cache: blobs/<sha256> and snapshots/<rev>/<file> -> ../../blobs/<sha256>.
        const QString repo = home + "/.cache/huggingface/hub/models--engram-test--Qwen2-Tiny-GGUF";
        const QByteArray tiny = read_all(kTiny);
        if (!write_file(repo + "/blobs/" + sha_hex(tiny), tiny)) return false;
        QDir().mkpath(repo + "/snapshots/0123abcd/Q8_0");
        QDir().mkpath(repo + "/refs");
        write_file(repo + "/refs/main", "0123abcd");
        hf_file = repo + "/snapshots/0123abcd/Q8_0/qwen2-tiny.Q8_0.gguf";
        if (!QFile::link("../../../blobs/" + sha_hex(tiny), hf_file)) return false;
        // Not a model: a README in the same snapshot is never opened.
        write_file(repo + "/snapshots/0123abcd/README.md", "# tiny\n");
        // LM Studio: ~/.lmstudio/models/PUBLISHER/REPO/FILE.gguf.
        lmstudio_file = home + "/.lmstudio/models/engram-test/Llama3-Tiny-GGUF/llama3-tiny.gguf";
        if (!write_file(lmstudio_file, read_all(kLlama))) return false;
        // GPT4All: ~/.local/share/nomic.ai/GPT4All/FILE.gguf.
        gpt4all_file = home + "/.local/share/nomic.ai/GPT4All/qwen3-tiny.gguf";
        if (!write_file(gpt4all_file, read_all(kQwen3))) return false;
        // Jan 0.6+: its data folder ~/.config/Jan/data, llamacpp/models/PROVIDER/MODEL/FILE.gguf.
        jan_file = home + "/.config/Jan/data/llamacpp/models/janhq/Tiny-GGUF/tiny.gguf";
        if (!write_file(jan_file, read_all(kTiny))) return false;
        // Ollama: manifests/registry.ollama.ai/library/NAME/TAG -> blobs/sha256-HEX.
        const QString store = home + "/.ollama/models";
        QDir().mkpath(store + "/blobs");
        const QFileInfo model(ollama_model);
        // The blob is the default model itself (a link: it is 100 MB); Ollama names it by its SHA-256.
        const QString digest = "sha256:" + QString(64, QLatin1Char('a'));
        ollama_blob = store + "/blobs/sha256-" + QString(64, QLatin1Char('a'));
        if (!QFile::link(model.absoluteFilePath(), ollama_blob)) return false;
        const QByteArray tmpl = "{{ .Prompt }}";
        const QByteArray params = R"({"stop":["<|im_end|>"]})";
        ollama_template = store + "/blobs/sha256-" + sha_hex(tmpl);
        write_file(ollama_template, tmpl);
        write_file(store + "/blobs/sha256-" + sha_hex(params), params);
        const QJsonObject manifest{
            {"schemaVersion", 2},
            {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
            {"config", QJsonObject{{"mediaType", "application/vnd.docker.container.image.v1+json"},
                                   {"digest", "sha256:" + QString(64, QLatin1Char('c'))}, {"size", 10}}},
            {"layers", QJsonArray{QJsonObject{{"mediaType", "application/vnd.ollama.image.model"},
                                              {"digest", digest}, {"size", model.size()}},
                                  QJsonObject{{"mediaType", "application/vnd.ollama.image.template"},
                                              {"digest", "sha256:" + sha_hex(tmpl)}, {"size", tmpl.size()}},
                                  QJsonObject{{"mediaType", "application/vnd.ollama.image.params"},
                                              {"digest", "sha256:" + sha_hex(params)}, {"size", params.size()}}}}};
        return write_file(store + "/manifests/registry.ollama.ai/library/smollm2/135m",
                          QJsonDocument(manifest).toJson());
    }
    QProcessEnvironment env() const {
        QProcessEnvironment e;
        e.insert("HOME", dir.path());
        return e;
    }
};

QVariantMap entry_named(const QVariantList& list, const QString& name) {
    for (const QVariant& v : list)
        if (v.toMap().value("name").toString() == name) return v.toMap();
    return {};
}

}  // namespace

class TestOtherApps : public QObject {
    Q_OBJECT
    QString model_;

private slots:
    void initTestCase() {
        model_ = QString::fromStdString(eg_test::default_model_path());
        if (!QFileInfo::exists(model_)) QSKIP("the default model is not cached (scripts/fetch-model.sh)");
    }

    // The places come from the environment as each program reads it.
    void places_follow_the_environment() {
        FakeHome home;
        QVERIFY(home.build(model_));
        QProcessEnvironment env = home.env();
        QList<ScanPlace> places = eg::library::other_app_places(env);
        QStringList sources;
        for (const ScanPlace& p : places) sources << p.source;
        QCOMPARE(sources, (QStringList{"hf-cache", "lm-studio", "gpt4all", "jan", "ollama"}));  // only folders that exist
        // HF_HUB_CACHE moves the Hugging Face cache (and HF_HOME its parent).
        env.insert("HF_HUB_CACHE", home.dir.filePath("elsewhere"));
        QDir().mkpath(home.dir.filePath("elsewhere"));
        places = eg::library::other_app_places(env);
        QCOMPARE(places[0].root, home.dir.filePath("elsewhere"));
    }

    // The claim: the Installed tab lists every program's model with its
    // source, opens one where it is, and the engine chats with it.
    void installed_tab_lists_other_apps_models_and_one_chats() {
        FakeHome home;
        QVERIFY(home.build(model_));
        Library lib;
        lib.places = eg::library::other_app_places(home.env());
        QVERIFY(lib.init(QStringLiteral("http://127.0.0.1:9"), 1000));
        LibraryPageUnderTest ui;
        QVERIFY2(ui.open(lib, nullptr), qPrintable(ui.error));
        QSignalSpy use(ui.page, SIGNAL(useRequested(QString)));
        click(ui.window, find_item(ui.page, "installedTab"));

        const QVariantList installed = lib.actions->installed();
        QCOMPARE(installed.size(), 5);
        const struct {
            QString name, label, path;
        } expected[] = {
            {"engram-test/Qwen2-Tiny-GGUF · qwen2-tiny.Q8_0", "Hugging Face cache", home.hf_file},
            {"engram-test/Llama3-Tiny-GGUF · llama3-tiny", "LM Studio", home.lmstudio_file},
            {"qwen3-tiny", "GPT4All", home.gpt4all_file},
            {"janhq/Tiny-GGUF · tiny", "Jan", home.jan_file},
            {"smollm2:135m", "Ollama", home.ollama_blob},
        };
        for (const auto& e : expected) {
            const QVariantMap m = entry_named(installed, e.name);
            QVERIFY2(!m.isEmpty(), qPrintable(e.name));
            QCOMPARE(m.value("sourceLabel").toString(), e.label);
            QCOMPARE(m.value("path").toString(), e.path);  // where it is: the link itself, not a copy
            QVERIFY(m.value("exists").toBool());
            QQuickItem* row = nullptr;
            QTRY_VERIFY2((row = find_item(ui.page, "installed_" + e.name)) != nullptr && row->isVisible(),
                         qPrintable(e.name));
            QVERIFY(find_item(row, "installedSource")->property("text").toString().startsWith(e.label + ", used where it is"));
        }
        QDir().mkpath(EG_ARTIFACTS_DIR);
        ui.window.grabWindow().save(QStringLiteral(EG_ARTIFACTS_DIR "/installed-other-apps.png"));
        // Nothing was copied into the models folder.
        QVERIFY(QDir(lib.models_dir).entryList(QDir::Files).isEmpty());
        QCOMPARE(entry_named(installed, "engram-test/Qwen2-Tiny-GGUF · qwen2-tiny.Q8_0").value("sizeBytes").toLongLong(),
                 QFileInfo(kTiny).size());

        // "Use" on Ollama's model hands its blob to the window, which loads it and chats.
        QQuickItem* ollama = find_item(ui.page, "installed_smollm2:135m");
        QTest::qWait(50);
        click(ui.window, find_item(ollama, "useButton"));
        QTRY_COMPARE(use.count(), 1);
        const QString path = use[0][0].toString();
        QCOMPARE(path, home.ollama_blob);
        auto m = eg::Model::load(path.toStdString());
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        auto session = eg::Session::create(*m.value(), eg::SessionOptions{512, 32, 2});
        QVERIFY(session.ok());
        auto chat = eg::ChatSession::create(*session.value());
        QVERIFY(chat.ok());
        eg::GenerateOptions opt;
        opt.max_tokens = 24;
        opt.sampling.temperature = 0;
        auto reply = chat.value()->send("How many days are there in a week?", opt, {});
        QVERIFY2(reply.ok(), reply.ok() ? "" : reply.message().c_str());
        QVERIFY2(reply->text.find("7") != std::string::npos || reply->text.find("seven") != std::string::npos,
                 reply->text.c_str());
        lib.actions->markUsed(path);
        QVERIFY(!entry_named(lib.actions->installed(), "smollm2:135m").value("lastUsedText").toString().isEmpty());
    }

    // The claim: a file another program deleted is shown as missing — also at
    // the next start, with no error — and is only ever forgotten, not deleted, by us.
    void a_file_that_goes_is_shown_missing_not_an_error() {
        FakeHome home;
        QVERIFY(home.build(model_));
        Library lib;
        lib.places = eg::library::other_app_places(home.env());
        QVERIFY(lib.init(QStringLiteral("http://127.0.0.1:9"), 1000));
        const QString name = "engram-test/Llama3-Tiny-GGUF · llama3-tiny";
        QVERIFY(QFile::remove(home.lmstudio_file));
        lib.actions->refreshInstalled();
        QVariantMap m = entry_named(lib.actions->installed(), name);
        QVERIFY(!m.isEmpty());
        QVERIFY(!m.value("exists").toBool());
        QVERIFY(lib.models->rowOfPath(home.lmstudio_file) < 0);  // not offered to the picker

        // The next start: the same, no error.
        InstalledModels again(*lib.registry, lib.models_dir, lib.places);
        QCOMPARE(again.entries().size(), 5);
        QCOMPARE(again.count(), 4);

        // Ollama's blob is Ollama's: "delete" refuses with a sentence, "forget" works, the file stays.
        const qint64 id = entry_named(lib.actions->installed(), "smollm2:135m").value("id").toLongLong();
        QVERIFY(!lib.actions->removeModel(id, true));
        QVERIFY2(lib.actions->removeError().contains("belongs to Ollama"), qPrintable(lib.actions->removeError()));
        QVERIFY(QFileInfo::exists(home.ollama_blob));
        QVERIFY(lib.actions->removeModel(id, false));
        QVERIFY(QFileInfo::exists(home.ollama_blob));
    }

    // The claim: a folder the user adds is searched (headers only, in place),
    // its split model listed once; a folder outside the places is not read.
    void a_folder_the_user_adds_is_searched() {
        Library lib;
        QVERIFY(lib.init(QStringLiteral("http://127.0.0.1:9"), 1000));
        QTemporaryDir mine;
        QVERIFY(write_file(mine.filePath("deep/er/qwen2-tiny.gguf"), read_all(kTiny)));
        QVERIFY(QDir().mkpath(mine.filePath("split")));
        for (int k = 1; k <= 3; ++k)
            QVERIFY(QFile::copy(QStringLiteral(EG_TESTS_DIR "/reference/split/qwen2-tiny-0000%1-of-00003.gguf").arg(k),
                                mine.filePath(QStringLiteral("split/qwen2-tiny-0000%1-of-00003.gguf").arg(k))));
        QVERIFY(write_file(mine.filePath("notes.gguf"), "not a model"));  // named .gguf, no GGUF magic
        QCOMPARE(lib.actions->installed().size(), 0);
        QVERIFY(!lib.actions->addFolder(mine.filePath("no-such-folder")));
        QVERIFY(lib.actions->folderError().contains("is not a folder"));
        QVERIFY(lib.actions->addFolder(QUrl::fromLocalFile(mine.path()).toString()));
        QCOMPARE(lib.actions->userFolders(), QStringList{QFileInfo(mine.path()).absoluteFilePath()});
        const QVariantList installed = lib.actions->installed();
        QCOMPARE(installed.size(), 2);
        const QVariantMap split = entry_named(installed, "split · qwen2-tiny-00001-of-00003");
        QVERIFY(!split.isEmpty());
        QCOMPARE(split.value("sizeBytes").toLongLong(),
                 QFileInfo(mine.filePath("split/qwen2-tiny-00001-of-00003.gguf")).size() +
                     QFileInfo(mine.filePath("split/qwen2-tiny-00002-of-00003.gguf")).size() +
                     QFileInfo(mine.filePath("split/qwen2-tiny-00003-of-00003.gguf")).size());
        QVERIFY(!entry_named(installed, "deep/er · qwen2-tiny").isEmpty());
        lib.actions->removeFolder(mine.path());
        QVERIFY(lib.actions->userFolders().isEmpty());
        QCOMPARE(lib.actions->installed().size(), 0);
    }
};

QTEST_MAIN(TestOtherApps)
#include "test_other_apps.moc"
