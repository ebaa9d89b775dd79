#include "application.h"

#include <QApplication>
#include <QCoreApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QQmlApplicationEngine>
#include <QQmlContext>
#include <QQuickWindow>
#include <QSettings>
#include <QThread>
#include <QtQml/qqmlextensionplugin.h>

#include <QFile>


#include <cstdio>

#include "chat_controller.h"
#include "conversation_list_model.h"
#include "core/log.h"
#include "engine_worker.h"
#include "window_state.h"
#include "appearance.h"
#include "catalog_model.h"
#include "download_center.h"
#include "hub_search_model.h"
#include "installed_models.h"
#include "library/downloader.h"
#include "library/hub_client.h"
#include "library/model_registry.h"
#include "library/pull_command.h"
#include "library_actions.h"
#include "logging.h"
#include "memory_panel.h"
#include "paths.h"
#include "remote_models.h"
#include "server/api_server.h"
#include "server_switch.h"
#include "store/chat_store.h"

#ifndef ENGRAM_VERSION
#define ENGRAM_VERSION "0.0.0"
#endif

// The QML module EngramDesktop is a static plugin of eg_ui.
Q_IMPORT_QML_PLUGIN(EngramDesktopPlugin)

namespace eg::app {

void connect_worker(eg::ui::ChatController& chat, EngineWorker& worker, eg::ui::MemoryPanel* memory,
                    eg::ui::RemoteModels* remote) {
    using eg::ui::ChatController;
    using eg::ui::MemoryPanel;
    using eg::ui::RemoteModels;
    // A local model loads in the worker, with the panel's remembered budgets for it.
    auto load_local = [&worker, memory](const QString& path) {
        const eg::PlacementRequest placement = memory ? memory->placementFor(path) : eg::PlacementRequest{};
        QMetaObject::invokeMethod(&worker, [&worker, path, placement] { worker.loadModel(path, placement); },
                                  Qt::QueuedConnection);
    };
    QObject::connect(&chat, &ChatController::loadModelRequested, &chat, [remote, load_local](const QString& path) {
        if (remote && RemoteModels::handles(path)) remote->load(path);
        else load_local(path);
    });
    QObject::connect(&chat, &ChatController::generateRequested, &chat,
                     [&chat, &worker, remote](qint64 id, const eg::ReplyRequest& request) {
                         if (remote && RemoteModels::handles(chat.modelPath())) remote->generate(id, request);
                         else
                             QMetaObject::invokeMethod(&worker, [&worker, id, request] { worker.generate(id, request); },
                                                       Qt::QueuedConnection);
                     });
    QObject::connect(
        &chat, &ChatController::stopRequested, &worker, [&worker](qint64 id) { worker.requestStop(id); },
        Qt::DirectConnection);
    if (memory) {
        QObject::connect(memory, &MemoryPanel::applyRequested, &worker, &EngineWorker::applyPlacement,
                         Qt::QueuedConnection);
        QObject::connect(&worker, &EngineWorker::placed, memory, &MemoryPanel::onPlaced, Qt::QueuedConnection);
        QObject::connect(&worker, &EngineWorker::placementFailed, memory, &MemoryPanel::onPlacementFailed,
                         Qt::QueuedConnection);
        QObject::connect(&worker, &EngineWorker::loadFailed, memory, &MemoryPanel::onLoadFailed, Qt::QueuedConnection);
        memory->setSources([&worker] { return worker.live(); }, [&worker](int n) { return worker.hottest(n); });
    }
    QObject::connect(&worker, &EngineWorker::loadProgress, &chat, &ChatController::onLoadProgress, Qt::QueuedConnection);
    QObject::connect(&worker, &EngineWorker::modelLoaded, &chat, &ChatController::onModelLoaded, Qt::QueuedConnection);
    QObject::connect(&worker, &EngineWorker::loadFailed, &chat, &ChatController::onLoadFailed, Qt::QueuedConnection);
    QObject::connect(&worker, &EngineWorker::trimmed, &chat, &ChatController::onTrimmed, Qt::QueuedConnection);
    QObject::connect(&worker, &EngineWorker::pieces, &chat, &ChatController::onPieces, Qt::QueuedConnection);
    QObject::connect(&worker, &EngineWorker::finished, &chat, &ChatController::onFinished, Qt::QueuedConnection);
    QObject::connect(&worker, &EngineWorker::failed, &chat, &ChatController::onFailed, Qt::QueuedConnection);
    if (remote) {
        QObject::connect(&chat, &ChatController::stopRequested, remote, &RemoteModels::stop);
        QObject::connect(&worker, &EngineWorker::modelLoaded, remote, &RemoteModels::deactivate, Qt::QueuedConnection);
        QObject::connect(remote, &RemoteModels::loaded, &chat, &ChatController::onModelLoaded);
        QObject::connect(remote, &RemoteModels::loadFailed, &chat, &ChatController::onSwitchFailed);
        QObject::connect(remote, &RemoteModels::pieces, &chat, &ChatController::onPieces);
        QObject::connect(remote, &RemoteModels::finished, &chat, &ChatController::onFinished);
        QObject::connect(remote, &RemoteModels::failed, &chat, &ChatController::onFailed);
    }
}

void connect_server_switch(eg::ui::ServerSwitch& sw, EngineWorker& worker,
                           std::unique_ptr<eg::server::ApiServer>& server) {
    using eg::ui::ServerSwitch;
    QObject::connect(&sw, &ServerSwitch::startRequested, &sw, [&sw, &worker, &server](int port) {
        server.reset();
        eg::server::ServerOptions opt;  // 127.0.0.1: no key needed, nothing outside this computer
        opt.port = (quint16)port;
        auto s = std::make_unique<eg::server::ApiServer>(worker, opt);
        if (const eg::Status listening = s->listen(); !listening) {
            EG_LOG_WARN("the local server did not start: {}", listening.message());
            sw.onFailed(QString::fromStdString(listening.message()));
            return;
        }
        if (const auto facts = worker.modelFacts()) s->onModelLoaded(facts->name, {});
        QObject::connect(&worker, &EngineWorker::modelLoaded, s.get(), &eg::server::ApiServer::onModelLoaded,
                         Qt::QueuedConnection);
        sw.onStarted(s->baseUrl());
        server = std::move(s);
    });
    QObject::connect(&sw, &ServerSwitch::stopRequested, &sw, [&sw, &server] {
        server.reset();  // what it still had queued is cancelled
        EG_LOG_INFO("the local server stopped");
        sw.onStopped();
    });
}

void connect_sidebar(eg::ui::ChatController& chat, eg::ui::ConversationListModel& conversations) {
    using eg::ui::ChatController;
    using eg::ui::ConversationListModel;
    QObject::connect(&chat, &ChatController::conversationsChanged, &conversations, &ConversationListModel::refresh);
    QObject::connect(&conversations, &ConversationListModel::conversationRemoved, &chat,
                     &ChatController::onConversationRemoved);
    QObject::connect(&conversations, &ConversationListModel::conversationRenamed, &chat,
                     &ChatController::onConversationRenamed);
}

Application::Application(int& argc, char** argv) : argc_(argc), argv_(argv) {}

int Application::run() {
    QCoreApplication::setOrganizationName(QStringLiteral("engram-desktop"));
    QCoreApplication::setApplicationName(QStringLiteral("engram-desktop"));
    QCoreApplication::setApplicationVersion(QStringLiteral(ENGRAM_VERSION));

    // Parsed before any QApplication exists, so --help and --version work
    // without a display.
    QStringList args;
    for (int i = 0; i < argc_; ++i) args.push_back(QString::fromLocal8Bit(argv_[i]));
    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Engram Desktop: chat with local language models in a native window."));
    const QCommandLineOption help_opt = parser.addHelpOption();
    const QCommandLineOption version_opt = parser.addVersionOption();
    const QCommandLineOption data_dir_opt(QStringLiteral("data-dir"),
                                          QStringLiteral("Keep conversations, settings and logs in <dir>."),
                                          QStringLiteral("dir"));
    const QCommandLineOption model_opt(QStringLiteral("model"), QStringLiteral("Load the GGUF model at <path>."),
                                       QStringLiteral("path"));
    const QCommandLineOption verbose_opt(QStringLiteral("verbose"), QStringLiteral("Log debug messages."));
    const QCommandLineOption vram_opt(QStringLiteral("vram-budget"),
                                      QStringLiteral("VRAM for the model, bytes (8G) or a share of free VRAM (50%); "
                                                     "overrides the memory panel's setting for this run."),
                                      QStringLiteral("budget"));
    const QCommandLineOption engram_opt(QStringLiteral("engram-dram-budget"),
                                        QStringLiteral("DRAM for Engram table rows, bytes (2G) or a share of the "
                                                       "tables (5%); overrides the memory panel's setting for this run."),
                                        QStringLiteral("budget"));
    const QCommandLineOption expert_opt(QStringLiteral("expert-dram-budget"),
                                        QStringLiteral("MoE models: DRAM for the experts, bytes (12G) or a share of "
                                                       "them (25%); the rest is read from the file on demand."),
                                        QStringLiteral("budget"));
    const QCommandLineOption assume_gpu_opt(QStringLiteral("assume-gpu"),
                                            QStringLiteral("Plan for a GPU this machine does not have: free VRAM "
                                                           "[,host-to-device GB/s[,VRAM GB/s]], e.g. 24G,25."),
                                            QStringLiteral("gpu"));
    const QCommandLineOption pull_opt(
        QStringLiteral("pull"),
        QStringLiteral("Download <repo> <file> from Hugging Face (HF_ENDPOINT), verify and register it, then exit."),
        QStringLiteral("repo"));
    const QCommandLineOption revision_opt(QStringLiteral("revision"),
                                          QStringLiteral("The revision for --pull (default: main)."),
                                          QStringLiteral("rev"), QStringLiteral("main"));
    const QCommandLineOption list_models_opt(QStringLiteral("list-models"),
                                             QStringLiteral("Print the installed models as JSON, then exit."));
    const QCommandLineOption serve_opt(
        QStringLiteral("serve"),
        QStringLiteral("Serve the model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, "
                       "/v1/models, /health, /metrics) with no window, until stopped."));
    const QCommandLineOption host_opt(QStringLiteral("host"),
                                      QStringLiteral("--serve: the address to listen on (default 127.0.0.1; any other "
                                                     "needs --api-key-file)."),
                                      QStringLiteral("address"), QStringLiteral("127.0.0.1"));
    const QCommandLineOption port_opt(QStringLiteral("port"),
                                      QStringLiteral("--serve: the port (default 8080; 0 picks a free one)."),
                                      QStringLiteral("port"), QStringLiteral("8080"));
    const QCommandLineOption key_opt(QStringLiteral("api-key-file"),
                                     QStringLiteral("--serve: require 'Authorization: Bearer KEY', KEY being the "
                                                    "first line of <file>."),
                                     QStringLiteral("file"));
    const QCommandLineOption queue_opt(QStringLiteral("queue-limit"),
                                       QStringLiteral("--serve: requests waiting or running past which new ones get "
                                                      "429 (default 16)."),
                                       QStringLiteral("n"), QStringLiteral("16"));
    const QCommandLineOption max_tokens_opt(QStringLiteral("max-tokens-limit"),
                                            QStringLiteral("--serve: the largest max_tokens a request may ask (default 4096)."),
                                            QStringLiteral("n"), QStringLiteral("4096"));
    parser.addOptions({data_dir_opt, model_opt, verbose_opt, vram_opt, engram_opt, expert_opt, assume_gpu_opt, pull_opt, revision_opt,
                       list_models_opt, serve_opt, host_opt, port_opt, key_opt, queue_opt, max_tokens_opt});
    // Qt's platform options (-platform, -style, ...) are left to QApplication.
    parser.setOptionsAfterPositionalArgumentsMode(QCommandLineParser::ParseAsOptions);
    if (!parser.parse(args)) {
        std::fprintf(stderr, "engram-desktop: %s\n%s", qPrintable(parser.errorText()), qPrintable(parser.helpText()));
        return 2;
    }
    if (parser.isSet(help_opt) || parser.isSet(QStringLiteral("help-all"))) {
        // No QCoreApplication yet, so Qt cannot name the program itself.
        QString text = parser.helpText();
        text.replace(QStringLiteral("<executable_name>"), QStringLiteral("engram-desktop"));
        std::fputs(qPrintable(text), stdout);
        return 0;
    }
    if (parser.isSet(version_opt)) {
        std::printf("engram-desktop %s\n", ENGRAM_VERSION);
        return 0;
    }
    // The model library's headless commands: a QCoreApplication, no display.
    if (parser.isSet(pull_opt) || parser.isSet(list_models_opt)) {
        QCoreApplication app(argc_, argv_);
        const QString data = data_dir(parser.value(data_dir_opt));
        if (parser.isSet(list_models_opt)) return eg::library::run_list_models(data, model_cache_dir());
        if (parser.positionalArguments().size() != 1) {
            std::fprintf(stderr, "engram-desktop: --pull needs a repo and a file: --pull REPO FILE [--revision R]\n");
            return 2;
        }
        return eg::library::run_pull(data, model_cache_dir(), parser.value(pull_opt),
                                     parser.positionalArguments().constFirst(), parser.value(revision_opt));
    }
    CommandLine cl;
    cl.data_dir = parser.value(data_dir_opt);
    cl.model_path = parser.value(model_opt);
    cl.verbose = parser.isSet(verbose_opt);
    // Parsed here, once: a typo is an error at start and not a failed load.
    const eg::BudgetFlags flags{parser.value(vram_opt).trimmed().toStdString(),
                                parser.value(engram_opt).trimmed().toStdString(), {},
                                parser.value(assume_gpu_opt).trimmed().toStdString(),
                                parser.value(expert_opt).trimmed().toStdString()};
    if (auto s = eg::parse_budget_flags(flags, cl.placement); !s) {
        std::fprintf(stderr, "engram-desktop: %s\n", s.message().c_str());
        return 2;
    }
    if (parser.isSet(serve_opt)) {
        ServeCommand sc;
        sc.host = parser.value(host_opt).trimmed();
        bool ok_port = false, ok_queue = false, ok_max = false;
        const uint port = parser.value(port_opt).toUInt(&ok_port);
        sc.queue_limit = parser.value(queue_opt).toInt(&ok_queue);
        sc.max_tokens = parser.value(max_tokens_opt).toLongLong(&ok_max);
        if (!ok_port || port > 65535) {
            std::fprintf(stderr, "engram-desktop: --port must be a number from 0 to 65535, not '%s'\n",
                         qPrintable(parser.value(port_opt)));
            return 2;
        }
        if (!ok_queue || sc.queue_limit < 1 || !ok_max || sc.max_tokens < 1) {
            std::fprintf(stderr, "engram-desktop: --queue-limit and --max-tokens-limit must be positive numbers\n");
            return 2;
        }
        sc.port = (quint16)port;
        sc.api_key_file = parser.value(key_opt);
        return run_serve(cl, sc);
    }
    return run_gui(cl);
}


int Application::run_serve(const CommandLine& cl, const ServeCommand& sc) {
    QCoreApplication app(argc_, argv_);
    const QString data = data_dir(cl.data_dir);
    const QString log_path = init_logging(data, cl.verbose);

    eg::server::ServerOptions opt;
    if (!opt.address.setAddress(sc.host)) {
        std::fprintf(stderr, "engram-desktop: --host '%s' is not an IP address\n", qPrintable(sc.host));
        return 2;
    }
    opt.port = sc.port;
    opt.limits.queue_limit = sc.queue_limit;
    opt.limits.max_tokens = sc.max_tokens;
    if (!sc.api_key_file.isEmpty()) {
        QFile f(sc.api_key_file);
        if (!f.open(QIODevice::ReadOnly)) {
            std::fprintf(stderr, "engram-desktop: cannot read the API key file %s: %s\n", qPrintable(sc.api_key_file),
                         qPrintable(f.errorString()));
            return 2;
        }
        opt.api_key = f.readLine().trimmed().toStdString();
        if (opt.api_key.empty()) {
            std::fprintf(stderr, "engram-desktop: the API key file %s is empty\n", qPrintable(sc.api_key_file));
            return 2;
        }
        if (f.permissions() & (QFileDevice::ReadGroup | QFileDevice::ReadOther))
            EG_LOG_WARN("the API key file {} can be read by other users (chmod 600 it)", sc.api_key_file.toStdString());
    }

    QString model = cl.model_path;
    if (model.isEmpty()) model = default_model_path();
    EG_LOG_INFO("Engram Desktop {} serving {}; data in {}, log {}", ENGRAM_VERSION, model.toStdString(),
                data.toStdString(), log_path.toStdString());

    QThread engine_thread;
    engine_thread.setObjectName(QStringLiteral("engine"));
    auto* worker = new EngineWorker;
    worker->moveToThread(&engine_thread);
    engine_thread.start();

    int rc = 0;
    {
        eg::server::ApiServer server(*worker, opt);
        QObject::connect(worker, &EngineWorker::modelLoaded, &server, &eg::server::ApiServer::onModelLoaded,
                         Qt::QueuedConnection);
        QObject::connect(
            worker, &EngineWorker::modelLoaded, &app,
            [&server](const QString& name) {
                std::printf("engram-desktop: serving %s at %s\n", qPrintable(name), qPrintable(server.baseUrl()));
                std::fflush(stdout);
            },
            Qt::QueuedConnection);
        QObject::connect(
            worker, &EngineWorker::loadFailed, &app,
            [](const QString& error) {
                std::fprintf(stderr, "engram-desktop: cannot load the model: %s\n", qPrintable(error));
                QCoreApplication::exit(1);
            },
            Qt::QueuedConnection);
        if (const eg::Status listening = server.listen(); !listening) {
            std::fprintf(stderr, "engram-desktop: %s\n", listening.message().c_str());
            rc = 2;
        } else {
            // The port first (a test or script may have asked for any free one), then the model.
            std::printf("engram-desktop: listening on %s\n", qPrintable(server.baseUrl()));
            std::fflush(stdout);
            const eg::PlacementRequest placement = cl.placement;
            QMetaObject::invokeMethod(worker, [worker, model, placement] { worker->loadModel(model, placement); },
                                      Qt::QueuedConnection);
            // SIGINT/SIGTERM end it cleanly (the Engram store saves its hot rows).
            quit_on_termination_signals();
            rc = app.exec();
        }
        worker->requestStop();
    }  // the server cancels what it still has queued
    engine_thread.quit();
    engine_thread.wait();
    delete worker;
    EG_LOG_INFO("Engram Desktop server exits ({})", rc);
    eg::logger()->flush();
    return rc;
}

int Application::run_gui(const CommandLine& cl) {
    // Qt Charts in QML needs a QApplication (DESIGN §7).
    QApplication app(argc_, argv_);
    QApplication::setApplicationDisplayName(QStringLiteral("Engram Desktop"));

    const QString data = data_dir(cl.data_dir);
    const QString log_path = init_logging(data, cl.verbose);
    EG_LOG_INFO("Engram Desktop {} starting; data in {}, log {}", ENGRAM_VERSION, data.toStdString(),
                log_path.toStdString());

    // With --data-dir the preferences live there too, so a fresh dir is a fresh app.
    std::unique_ptr<QSettings> prefs =
        cl.data_dir.isEmpty() ? std::make_unique<QSettings>()
                              : std::make_unique<QSettings>(data + QStringLiteral("/settings.ini"), QSettings::IniFormat);

    eg::store::ChatStore store(QStringLiteral("engram-main"));
    const QString db_path = data + QStringLiteral("/engram.sqlite");
    if (const eg::Status opened = store.open(db_path); !opened) {
        EG_LOG_ERROR("{}", opened.message());
        std::fprintf(stderr, "engram-desktop: %s\n", opened.message().c_str());
        return 1;
    }

    QThread engine_thread;
    engine_thread.setObjectName(QStringLiteral("engine"));
    auto* worker = new EngineWorker;  // deleted after the thread ends
    worker->moveToThread(&engine_thread);
    engine_thread.start();

    eg::ui::ChatController chat(store, prefs.get());
    eg::ui::ConversationListModel conversations(store);
    eg::ui::MemoryPanel memory(prefs.get());
    memory.setOverrides(cl.placement);
    // Remote engines the user added (none connects until one of its models is picked).
    eg::ui::RemoteModels remote(data);
    connect_worker(chat, *worker, &memory, &remote);
    connect_sidebar(chat, conversations);
    // The local OpenAI-compatible server, off unless the user switched it on.
    eg::ui::ServerSwitch server_switch(prefs.get());
    std::unique_ptr<eg::server::ApiServer> api_server;
    connect_server_switch(server_switch, *worker, api_server);

    // The model library (library/) and its view-models (ui/): the installed
    // list over the registry (QML `models`), one DownloadCenter for every
    // download, the catalog, the library page's actions, Hugging Face search.
    eg::library::ModelRegistry registry;
    if (auto opened = registry.open(eg::library::registry_path(data)); !opened)
        EG_LOG_ERROR("cannot open the model registry: {}", opened.message());
    eg::library::Downloader downloader(data);
    eg::library::HubClient hub_client;
    hub_client.set_token(downloader.token());
    eg::ui::InstalledModels models(registry, model_cache_dir());
    eg::ui::DownloadCenter downloads;
    downloads.attach(downloader, model_cache_dir());
    eg::ui::CatalogModel catalog(QStringLiteral(":/EngramDesktop/models.json"), downloads, models);
    eg::ui::LibraryActions library(models, downloads, downloader);
    eg::ui::ModelPickerList picker_models(models, remote);
    eg::ui::HubSearchModel hub(hub_client, &downloads);
    QObject::connect(&chat, &eg::ui::ChatController::loadModelRequested, &library, &eg::ui::LibraryActions::markUsed);
    QObject::connect(&library, &eg::ui::LibraryActions::tokenChanged, &hub,
                     [&hub_client, &downloader] { hub_client.set_token(downloader.token()); });

    WindowState window_state(*prefs, store, chat);
    eg::ui::Appearance appearance(prefs.get());
    int rc = 0;
    {
        QQmlApplicationEngine engine;
        engine.addImportPath(QStringLiteral("qrc:/"));  // Qt 6.4 puts the module at qrc:/EngramDesktop
        engine.rootContext()->setContextProperty(QStringLiteral("chat"), &chat);
        engine.rootContext()->setContextProperty(QStringLiteral("conversations"), &conversations);
        engine.rootContext()->setContextProperty(QStringLiteral("models"), &models);
        engine.rootContext()->setContextProperty(QStringLiteral("library"), &catalog);
        engine.rootContext()->setContextProperty(QStringLiteral("libraryActions"), &library);
        engine.rootContext()->setContextProperty(QStringLiteral("hub"), &hub);
        engine.rootContext()->setContextProperty(QStringLiteral("memory"), &memory);
        engine.rootContext()->setContextProperty(QStringLiteral("remoteModels"), &remote);
        engine.rootContext()->setContextProperty(QStringLiteral("appearance"), &appearance);
        engine.rootContext()->setContextProperty(QStringLiteral("pickerModels"), &picker_models);
        engine.rootContext()->setContextProperty(QStringLiteral("apiServer"), &server_switch);
        engine.load(QUrl(QStringLiteral("qrc:/EngramDesktop/Main.qml")));
        if (engine.rootObjects().isEmpty()) {
            EG_LOG_ERROR("the main window (qrc:/EngramDesktop/Main.qml) failed to load");
            rc = 1;
        } else {
            // The model to start with: --model, else the last one used, else the default.
            // An explicit --model is always tried, so a wrong path is reported.
            QString model = cl.model_path;
            if (model.isEmpty()) model = prefs->value(QStringLiteral("model/last_path")).toString();
            if (cl.model_path.isEmpty() && !QFileInfo::exists(model)) model = default_model_path();
            if (!cl.model_path.isEmpty() || QFileInfo::exists(model)) chat.loadModel(model);
            else EG_LOG_INFO("no model found (looked for {}); showing the first-start page", model.toStdString());
            window_state.restore_and_watch(qobject_cast<QQuickWindow*>(engine.rootObjects().first()));
            quit_on_termination_signals();
            server_switch.restore();
            rc = app.exec();
        }
        api_server.reset();
        chat.stop();
    }
    memory.setSources({}, {});  // no more reads of the worker
    worker->requestStop();
    engine_thread.quit();
    engine_thread.wait();
    delete worker;
    EG_LOG_INFO("Engram Desktop exits ({})", rc);
    eg::logger()->flush();
    return rc;
}

}  // namespace eg::app
