// Child process for test_store's crash test: streams an assistant reply into
// the store, one committed update per piece, until it is killed (SIGKILL).
// Usage: store_child <db_path>. Prints "ready <message_id>" once, then
// "committed <chars>" after each update returns.
#include "store/chat_store.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <cstdio>

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    if (argc != 2) {
        std::fprintf(stderr, "usage: store_child <db_path>\n");
        return 2;
    }
    eg::store::ChatStore store(QStringLiteral("child"));
    if (const eg::Status opened = store.open(QString::fromLocal8Bit(argv[1])); !opened) {
        std::fprintf(stderr, "%s\n", opened.message().c_str());
        return 1;
    }
    const eg::Result<qint64> conversation = store.create_conversation(QStringLiteral("crash test"));
    if (!conversation) {
        std::fprintf(stderr, "%s\n", conversation.message().c_str());
        return 1;
    }
    eg::store::MessageRow reply;
    reply.conversation_id = conversation.value();
    reply.role = QStringLiteral("assistant");
    reply.finished = false;
    const eg::Result<qint64> added = store.add_message(reply);
    if (!added) {
        std::fprintf(stderr, "%s\n", added.message().c_str());
        return 1;
    }
    const qint64 id = added.value();
    std::printf("ready %lld\n", static_cast<long long>(id));
    std::fflush(stdout);

    // The text after n updates is "w0 w1 ... w(n-1) "; the test rebuilds it.
    QString text;
    QElapsedTimer alive;
    alive.start();
    for (int i = 0; alive.elapsed() < 60'000; ++i) {  // never outlive a lost parent for long
        text += QStringLiteral("w%1 ").arg(i);
        if (const eg::Status s = store.update_message(id, text, false, 5, i + 1); !s) {
            std::fprintf(stderr, "%s\n", s.message().c_str());
            return 1;
        }
        std::printf("committed %lld\n", static_cast<long long>(text.size()));
        std::fflush(stdout);
    }
    return 3;  // only reached when nobody killed us
}
