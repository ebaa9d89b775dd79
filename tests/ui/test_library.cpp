// The model library as the window drives it: the library page's view-models
// (CatalogModel, LibraryActions) over the DownloadCenter and the installed
// list (InstalledModels), on a real Downloader and ModelRegistry, against the
// fake Hugging Face server on 127.0.0.1. A click on "Download"
// (CatalogModel::download) shows progress, installs, registers and lists the
// model; a 404, a wrong checksum and no network each end with an error that
// names the cause; a file put into the models folder is listed once.
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>

#include "library_fixture.h"

Q_IMPORT_QML_PLUGIN(EngramDesktopPlugin)

class TestLibrary : public QObject {
    Q_OBJECT
    QByteArray model_;

private slots:
    void initTestCase() {
        model_ = read_all(QStringLiteral(EG_TESTS_DIR "/reference/arch/qwen2-tiny.gguf"));
        QVERIFY(model_.size() > 100000);
    }

    // One click: progress while it runs, then installed, on disk, registered, listed.
    void download_installs_registers_and_lists() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(16 * 1024, 15);  // slow enough to watch the progress
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        lib.downloader->set_off_thread_bytes(0);  // the GGUF check on a pool thread, as for a large model
        const int row = lib.catalog->row_of("tiny");
        QVERIFY(row >= 0);
        QVERIFY(!lib.role("tiny", CatalogModel::InstalledRole).toBool());
        QCOMPARE(lib.models->count(), 0);

        QStringList texts;
        connect(lib.catalog.get(), &CatalogModel::dataChanged, this, [&] {
            const QString t = lib.role("tiny", CatalogModel::ProgressTextRole).toString();
            if (!t.isEmpty() && (texts.isEmpty() || texts.last() != t)) texts << t;
        });
        QVERIFY(lib.catalog->download(row));
        QVERIFY(lib.role("tiny", CatalogModel::DownloadingRole).toBool());
        QVERIFY(lib.wait_idle("tiny"));

        QVERIFY2(lib.role("tiny", CatalogModel::ErrorRole).toString().isEmpty(),
                 qPrintable(lib.role("tiny", CatalogModel::ErrorRole).toString()));
        // Progress the user saw: bytes of the total while it ran, not just "Starting…".
        bool saw_bytes = false;
        for (const QString& t : texts) saw_bytes |= t.contains(QLatin1Char('/'));
        QVERIFY2(saw_bytes, qPrintable(texts.join(" | ")));

        const QString final_path = QDir(lib.models_dir).filePath(kFile);
        QVERIFY(lib.role("tiny", CatalogModel::InstalledRole).toBool());
        QCOMPARE(lib.role("tiny", CatalogModel::PathRole).toString(), final_path);
        QCOMPARE(read_all(final_path), model_);
        QVERIFY(!QFileInfo::exists(final_path + ".part"));
        const auto registered = lib.registry->find_by_path(final_path);
        QVERIFY(registered.has_value());
        QCOMPARE(registered->repo, kRepo);
        QCOMPARE(registered->file, kFile);
        QCOMPARE(registered->source, QStringLiteral("huggingface"));
        QCOMPARE(registered->size_bytes, qint64(model_.size()));
        QCOMPARE(registered->sha256.toLatin1(),
                 QCryptographicHash::hash(model_, QCryptographicHash::Sha256).toHex());
        QVERIFY(lib.models->rowOfPath(final_path) >= 0);
        QVERIFY(lib.catalog->online());
        // Installed: a second click does nothing.
        QVERIFY(!lib.catalog->download(row));
    }

    // Pause, then resume: the .part is re-hashed off the GUI thread and the file is identical.
    void pause_and_resume_from_the_part_file() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(8 * 1024, 20);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        lib.downloader->set_off_thread_bytes(0);
        const int row = lib.catalog->row_of("tiny");
        QVERIFY(lib.catalog->download(row));
        const QString part = QDir(lib.models_dir).filePath(kFile + ".part");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(part).size() > 64 * 1024, 10000);
        lib.catalog->pause(row);
        QVERIFY(lib.role("tiny", CatalogModel::PausedRole).toBool());
        QVERIFY(lib.role("tiny", CatalogModel::ProgressTextRole).toString().startsWith("Paused"));
        QTest::qWait(100);
        const qint64 kept = QFileInfo(part).size();
        QVERIFY(kept > 0 && kept < model_.size());
        server.set_throttle(0, 0);
        lib.catalog->resume(row);
        QVERIFY(lib.wait_idle("tiny"));
        QVERIFY2(lib.role("tiny", CatalogModel::InstalledRole).toBool(),
                 qPrintable(lib.role("tiny", CatalogModel::ErrorRole).toString()));
        QCOMPARE(read_all(QDir(lib.models_dir).filePath(kFile)), model_);
        QCOMPARE(server.last_range(), "bytes=" + QByteArray::number(kept) + "-");
    }

    // The one click as a user makes it: LibraryPage.qml with the app's context
    // properties, "Download" pressed, then "Use" hands the file to the chat.
    void one_click_in_the_library_page() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(32 * 1024, 10);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));

        LibraryPageUnderTest ui;
        QVERIFY2(ui.open(lib, nullptr), qPrintable(ui.error));
        QQuickItem* page = ui.page;
        QQuickWindow& window = ui.window;
        const QList<QQmlError>& warnings = ui.warnings;
        QSignalSpy used(page, SIGNAL(useRequested(QString)));

        QQuickItem* row = nullptr;
        QTRY_VERIFY((row = find_item(page, "catalogRow_tiny")) != nullptr);
        QVERIFY(find_item(page, "chooseFileButton") && find_item(page, "chooseFileButton")->isVisible());
        QQuickItem* button = find_item(row, "downloadButton");
        QVERIFY(button && button->isEnabled());
        click(window, button);
        QTRY_VERIFY_WITH_TIMEOUT(find_item(row, "progressText") &&
                                     find_item(row, "progressText")->property("text").toString().contains('/'),
                                 10000);
        QQuickItem* use = find_item(row, "useButton");
        QVERIFY(use);
        QTRY_VERIFY_WITH_TIMEOUT(use->isVisible(), 20000);
        QVERIFY(find_item(row, "openFolderButton")->isVisible());
        click(window, use);
        QTRY_COMPARE(used.count(), 1);
        QCOMPARE(used[0][0].toString(), QDir(lib.models_dir).filePath(kFile));
        QVERIFY(lib.models->rowOfPath(QDir(lib.models_dir).filePath(kFile)) >= 0);
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.value(0).toString()));
        // For a person to look at: build/test-artifacts/library-installed.png.
        QDir().mkpath(EG_ARTIFACTS_DIR);
        window.grabWindow().save(QStringLiteral(EG_ARTIFACTS_DIR "/library-installed.png"));
    }

    // The app closed mid-download: the next run shows the row paused and Resume continues from the .part.
    void restart_resumes_from_the_part_file() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(8 * 1024, 20);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        QVERIFY(lib.catalog->download(lib.catalog->row_of("tiny")));
        const QString part = QDir(lib.models_dir).filePath(kFile + ".part");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(part).size() > 64 * 1024, 10000);
        // "Quit": the library goes away mid-download.
        lib.quit();
        const qint64 kept = QFileInfo(part).size();
        QVERIFY(kept > 0 && kept < model_.size());
        server.set_throttle(0, 0);

        // "Start again": same folders, new objects.
        lib.start(server.endpoint());
        const int row = lib.catalog->row_of("tiny");
        QVERIFY(lib.role("tiny", CatalogModel::DownloadingRole).toBool());
        QVERIFY(lib.role("tiny", CatalogModel::PausedRole).toBool());
        QVERIFY2(lib.role("tiny", CatalogModel::ProgressTextRole).toString().startsWith("Paused"),
                 qPrintable(lib.role("tiny", CatalogModel::ProgressTextRole).toString()));
        lib.catalog->resume(row);
        QVERIFY(lib.wait_idle("tiny"));
        QVERIFY2(lib.role("tiny", CatalogModel::InstalledRole).toBool(),
                 qPrintable(lib.role("tiny", CatalogModel::ErrorRole).toString()));
        QCOMPARE(read_all(QDir(lib.models_dir).filePath(kFile)), model_);
        QCOMPARE(server.last_range(), "bytes=" + QByteArray::number(kept) + "-");
        QVERIFY(lib.registry->find_by_path(QDir(lib.models_dir).filePath(kFile)).has_value());
    }

    void not_found_names_the_cause() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        QVERIFY(lib.catalog->download(lib.catalog->row_of("missing")));
        QVERIFY(lib.wait_idle("missing"));
        const QString error = lib.role("missing", CatalogModel::ErrorRole).toString();
        QVERIFY2(error.contains("404") && error.contains("no-such-file.gguf"), qPrintable(error));
        QVERIFY(!lib.role("missing", CatalogModel::InstalledRole).toBool());
        QVERIFY(lib.catalog->online());  // the server answered: not an offline error
        QCOMPARE(lib.models->count(), 0);
    }

    void wrong_checksum_shows_both_and_installs_nothing() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kOther, model_);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        QVERIFY(lib.catalog->download(lib.catalog->row_of("badsum")));
        QVERIFY(lib.wait_idle("badsum"));
        const QString error = lib.role("badsum", CatalogModel::ErrorRole).toString();
        const QString found = QString::fromLatin1(QCryptographicHash::hash(model_, QCryptographicHash::Sha256).toHex());
        QVERIFY2(error.contains(QString(64, QLatin1Char('0'))) && error.contains(found), qPrintable(error));
        QVERIFY(!lib.role("badsum", CatalogModel::InstalledRole).toBool());
        QVERIFY(!QFileInfo::exists(QDir(lib.models_dir).filePath(kOther)));
        QVERIFY(!QFileInfo::exists(QDir(lib.models_dir).filePath(kOther + ".part")));
        QVERIFY(lib.registry->list().isEmpty());
        QCOMPARE(lib.models->count(), 0);
    }

    void offline_refuses_then_recovers() {
        QTcpServer closed;
        QVERIFY(closed.listen(QHostAddress::LocalHost));
        const quint16 port = closed.serverPort();
        closed.close();
        Library lib;
        QVERIFY(lib.init(QStringLiteral("http://127.0.0.1:%1").arg(port), model_.size()));
        lib.downloads->set_probe_interval_ms(50);
        const int row = lib.catalog->row_of("tiny");
        QVERIFY(lib.catalog->online());
        QVERIFY(lib.catalog->download(row));
        QVERIFY(lib.wait_idle("tiny"));
        const QString error = lib.role("tiny", CatalogModel::ErrorRole).toString();
        QVERIFY2(error.contains("offline"), qPrintable(error));
        QVERIFY(!lib.catalog->online());
        QVERIFY(!lib.role("tiny", CatalogModel::CanDownloadRole).toBool());
        QVERIFY(!lib.catalog->download(row));
        QVERIFY2(lib.role("tiny", CatalogModel::ErrorRole).toString().contains("needs a connection"),
                 qPrintable(lib.role("tiny", CatalogModel::ErrorRole).toString()));
        QTest::qWait(200);
        QVERIFY(!lib.catalog->online());  // the probe still finds nobody

        // The network comes back: the probe notices, and the download works.
        FakeHfServer server;
        QVERIFY(server.listen(port));
        server.add_file(kRepo, kFile, model_);
        QTRY_VERIFY_WITH_TIMEOUT(lib.catalog->online(), 5000);
        QVERIFY(lib.catalog->download(row));
        QVERIFY(lib.wait_idle("tiny"));
        QVERIFY2(lib.role("tiny", CatalogModel::InstalledRole).toBool(),
                 qPrintable(lib.role("tiny", CatalogModel::ErrorRole).toString()));
    }

    // A model used where it is: "only forget" keeps the file, "delete" removes it.
    void delete_referenced_model_forgets_or_deletes() {
        Library lib;
        QVERIFY(lib.init(QStringLiteral("http://127.0.0.1:9"), model_.size()));
        QTemporaryDir elsewhere;
        const QString good = elsewhere.filePath("mine.gguf");
        {
            QFile f(good);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(model_);
        }
        QVERIFY(lib.actions->importModel(good, false));
        QCOMPARE(lib.actions->installed().size(), 1);
        QVERIFY(!lib.actions->installed()[0].toMap().value("inModelsDir").toBool());
        QVERIFY(lib.models->rowOfPath(good) >= 0);
        QVERIFY(lib.actions->removeModel(lib.actions->installed()[0].toMap().value("id").toLongLong(), false));
        QVERIFY(lib.actions->removeError().isEmpty());
        QVERIFY(QFileInfo::exists(good));  // only forgotten
        QVERIFY(lib.registry->list().isEmpty());
        QVERIFY(lib.models->rowOfPath(good) < 0);

        QVERIFY(lib.actions->importModel(good, false));
        QVERIFY(lib.actions->removeModel(lib.actions->installed()[0].toMap().value("id").toLongLong(), true));
        QVERIFY(!QFileInfo::exists(good));
        QVERIFY(lib.registry->list().isEmpty());
        QVERIFY(!lib.actions->removeModel(12345, true));  // unknown id: an error, nothing else
        QVERIFY(!lib.actions->removeError().isEmpty());
    }

    // The token field: stored readable by the user only, never echoed; a gated
    // download fails with 401 without it and succeeds with it.
    void token_entry_unlocks_a_gated_download() {
        qunsetenv("HF_TOKEN");
        FakeHfServer server;
        QVERIFY(server.listen());
        const QString repo = QStringLiteral("gated-org/Gated-GGUF");
        const QString file = QStringLiteral("gated.Q8_0.gguf");
        server.add_file(repo, file, model_);
        server.set_gated(repo, "hf_secret_token");
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        QVERIFY(!lib.actions->tokenSet());
        const QString k = repo + "/" + file;
        QVERIFY(lib.actions->downloadFile(repo, "main", file, QString(), model_.size()));
        QTRY_VERIFY_WITH_TIMEOUT(!lib.actions->downloads().value(k).toMap().value("downloading").toBool(), 20000);
        const QString error = lib.actions->downloads().value(k).toMap().value("error").toString();
        QVERIFY2(error.contains("401") || error.contains("token"), qPrintable(error));

        QSignalSpy token_changed(lib.actions.get(), &LibraryActions::tokenChanged);
        QVERIFY(lib.actions->setToken("  hf_secret_token \n"));
        QVERIFY(lib.actions->tokenError().isEmpty());
        QCOMPARE(token_changed.count(), 1);
        QVERIFY(lib.actions->tokenSet());
        QVERIFY(!lib.actions->tokenFromEnvironment());
        const QFileInfo tf(lib.downloader->token_path());
        QVERIFY(tf.isFile());
        QCOMPARE(tf.permissions() & (QFile::ReadGroup | QFile::WriteGroup | QFile::ReadOther | QFile::WriteOther |
                                     QFile::ExeGroup | QFile::ExeOther),
                 QFile::Permissions());
        QVERIFY(tf.permissions() & QFile::ReadOwner);
        QCOMPARE(read_all(tf.filePath()).trimmed(), QByteArray("hf_secret_token"));
        // The view-model exposes only whether a token is set.
        const QMetaObject* mo = lib.actions->metaObject();
        for (int i = 0; i < mo->propertyCount(); ++i)
            QVERIFY(!mo->property(i).read(lib.actions.get()).toString().contains("hf_secret"));

        QVERIFY(lib.actions->downloadFile(repo, "main", file, QString(), model_.size()));  // Retry
        QTRY_VERIFY_WITH_TIMEOUT(!lib.actions->downloads().value(k).toMap().value("downloading").toBool(), 20000);
        const QVariantMap st = lib.actions->downloads().value(k).toMap();
        QVERIFY2(st.value("error").toString().isEmpty(), qPrintable(st.value("error").toString()));
        QCOMPARE(read_all(QDir(lib.models_dir).filePath(file)), model_);
        QVERIFY(lib.registry->find_by_path(QDir(lib.models_dir).filePath(file)).has_value());

        QVERIFY(lib.actions->setToken(""));
        QVERIFY(!lib.actions->tokenSet());
        QVERIFY(!tf.exists() || !QFileInfo::exists(tf.filePath()));
    }

    // A server that ignores Range: the row says it starts over (the downloader's notice).
    void notice_is_shown_on_the_row() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(8 * 1024, 20);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        const int row = lib.catalog->row_of("tiny");
        QVERIFY(lib.catalog->download(row));
        const QString part = QDir(lib.models_dir).filePath(kFile + ".part");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(part).size() > 64 * 1024, 10000);
        lib.catalog->pause(row);
        server.set_ignore_range(true);
        server.set_throttle(0, 0);
        lib.catalog->resume(row);
        QVERIFY(lib.wait_idle("tiny"));
        QVERIFY2(lib.role("tiny", CatalogModel::InstalledRole).toBool(),
                 qPrintable(lib.role("tiny", CatalogModel::ErrorRole).toString()));
        const QString notice = lib.actions->downloads().value(kRepo + "/" + kFile).toMap().value("notice").toString();
        QVERIFY2(notice.contains("resum") || notice.contains("over"), qPrintable(notice));
        // The catalog row shows the same notice (one state behind both).
        QCOMPARE(lib.role("tiny", CatalogModel::NoticeRole).toString(), notice);
    }

    void import_validates_and_lists() {
        Library lib;
        QVERIFY(lib.init(QStringLiteral("http://127.0.0.1:9"), model_.size()));
        QTemporaryDir elsewhere;
        const QString good = elsewhere.filePath("mine.gguf");
        const QString bad = elsewhere.filePath("broken.gguf");
        {
            QFile f(good);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(model_);
            QFile b(bad);
            QVERIFY(b.open(QIODevice::WriteOnly));
            b.write("GGUF not really");
        }
        QVERIFY(!lib.actions->importModel(QUrl::fromLocalFile(bad).toString(), true));
        const QString error = lib.actions->importError();
        QVERIFY2(error.contains("broken.gguf") && error.contains("GGUF"), qPrintable(error));
        QCOMPARE(lib.models->count(), 0);
        QVERIFY(lib.registry->list().isEmpty());

        // Referenced in place: listed where it is.
        QVERIFY2(lib.actions->importModel(good, false), qPrintable(lib.actions->importError()));
        QVERIFY(lib.actions->importError().isEmpty());
        QVERIFY(lib.models->rowOfPath(good) >= 0);
        // Copied: into the models folder.
        QVERIFY(lib.actions->importModel(QUrl::fromLocalFile(good).toString(), true));
        const QString copy = QDir(lib.models_dir).filePath("mine.gguf");
        QCOMPARE(read_all(copy), model_);
        QVERIFY(lib.models->rowOfPath(copy) >= 0);
        QCOMPARE(lib.registry->list().size(), 2);
        QCOMPARE(lib.actions->folderUrlOf(copy), QUrl::fromLocalFile(QDir(lib.models_dir).absolutePath()));
    }

    // A .gguf put into the models folder by hand (or by scripts/fetch-model.sh)
    // is one installed model: once in the picker, once on the Installed tab,
    // and the catalog row of that file says installed. Deleted there, it goes.
    void a_file_put_into_the_models_folder_is_listed_once() {
        Library lib;
        QVERIFY(lib.init(QStringLiteral("http://127.0.0.1:9"), model_.size()));
        QCOMPARE(lib.models->count(), 0);
        QVERIFY(!lib.role("tiny", CatalogModel::InstalledRole).toBool());
        const QString dropped = QDir(lib.models_dir).filePath(kFile);  // the catalog's "tiny" file
        {
            QFile f(dropped);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(model_);
        }
        // The folder is watched: no restart, no button.
        QTRY_COMPARE_WITH_TIMEOUT(lib.models->count(), 1, 5000);
        lib.actions->refreshInstalled();  // and looking again lists it no second time
        QCOMPARE(lib.models->count(), 1);
        QCOMPARE(lib.models->pathAt(0), dropped);
        QCOMPARE(lib.models->data(lib.models->index(0), InstalledModels::NameRole).toString(),
                 QFileInfo(kFile).completeBaseName());
        QCOMPARE(lib.actions->installed().size(), 1);
        const QVariantMap inst = lib.actions->installed()[0].toMap();
        QCOMPARE(inst.value("path").toString(), dropped);
        QCOMPARE(inst.value("source").toString(), QStringLiteral("folder"));
        QVERIFY(inst.value("exists").toBool() && inst.value("inModelsDir").toBool());
        QVERIFY(lib.role("tiny", CatalogModel::InstalledRole).toBool());
        QCOMPARE(lib.role("tiny", CatalogModel::PathRole).toString(), dropped);
        QVERIFY(!lib.catalog->download(lib.catalog->row_of("tiny")));  // installed: nothing to download

        // Restarted: still one.
        lib.quit();
        lib.start(QStringLiteral("http://127.0.0.1:9"));
        lib.models->refresh();
        QCOMPARE(lib.models->count(), 1);
        QCOMPARE(lib.actions->installed().size(), 1);

        QVERIFY(QFile::remove(dropped));
        QTRY_COMPARE_WITH_TIMEOUT(lib.models->count(), 0, 5000);
        QVERIFY(lib.actions->installed().isEmpty());
        QVERIFY(!lib.role("tiny", CatalogModel::InstalledRole).toBool());
    }
};

QTEST_MAIN(TestLibrary)
#include "test_library.moc"
