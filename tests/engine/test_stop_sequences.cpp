// Stop sequences (runtime/stop_sequences.h): a streamed reply shows all the
// text before a stop sequence, never the sequence or any part of it, and
// nothing after it; text that only looked like a start is shown in the end.
#include <QtTest>

#include <string>
#include <vector>

#include "runtime/stop_sequences.h"

namespace {
// Feeds the pieces; returns what a client would have been shown.
std::string shown(eg::StopSequences& s, const std::vector<std::string>& pieces) {
    std::string out;
    for (const auto& p : pieces) {
        out += s.push(p);
        if (s.matched()) return out;
    }
    return out + s.flush();
}
}  // namespace

class TestStopSequences : public QObject {
    Q_OBJECT
private slots:
    void text_before_the_stop_is_shown_and_the_stop_is_not() {
        eg::StopSequences s({"\nUser:"});
        QCOMPARE(shown(s, {"Hello", " there", "\nUs", "er:", " more"}), std::string("Hello there"));
        QVERIFY(s.matched());
    }
    void a_stop_split_over_pieces_never_shows_half() {
        eg::StopSequences s({"END"});
        QCOMPARE(s.push("abcE"), std::string("abc"));  // "E" may begin END: held
        QCOMPARE(s.push("N"), std::string());
        QCOMPARE(s.push("D tail"), std::string());
        QVERIFY(s.matched());
    }
    void a_false_start_is_shown_once_it_cannot_match() {
        eg::StopSequences s({"END"});
        QCOMPARE(s.push("xEN"), std::string("x"));
        QCOMPARE(s.push("o"), std::string("ENo"));
        QCOMPARE(s.push("E"), std::string());
        QCOMPARE(s.flush(), std::string("E"));  // the reply ended: the held text is shown
        QVERIFY(!s.matched());
    }
    void the_earliest_of_several_stops_wins() {
        eg::StopSequences s({"world", "lo w"});
        QCOMPARE(shown(s, {"hello world"}), std::string("hel"));
        QCOMPARE(s.matched_sequence(), std::string("lo w"));  // named in Anthropic's stop_sequence
    }
    void multibyte_text_is_not_cut_inside_a_character() {
        eg::StopSequences s({"été fini"});
        const std::string a = s.push("c'est l'été");  // "été" may begin the stop: held whole
        QCOMPARE(a, std::string("c'est l'"));
        QCOMPARE(s.flush(), std::string("été"));
    }
    void empty_stops_are_ignored() {
        eg::StopSequences s({""});
        QVERIFY(s.empty());
        QCOMPARE(s.push("anything"), std::string("anything"));
    }
};

QTEST_APPLESS_MAIN(TestStopSequences)
#include "test_stop_sequences.moc"
