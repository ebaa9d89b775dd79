// Chat templates render byte for byte as Python jinja2 does (golden data from
// tests/reference/templates/make_template_golden.py), template refusals carry
// the template's message, and malformed or hostile templates fail with a
// line:column error instead of crashing or hanging.
#include <QtTest/QtTest>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "test_env.h"

using nlohmann::ordered_json;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

const ordered_json& golden() {
    static const ordered_json g = [] {
        std::string text = read_file(eg_test::fixture("reference/templates/golden.json"));
        return text.empty() ? ordered_json() : ordered_json::parse(text);
    }();
    return g;
}

// The moment make_template_golden.py pins strftime_now() to.
std::tm fixed_now() {
    std::tm t{};
    std::istringstream in(golden().value("fixed_now", std::string("2025-03-07T14:05:09")));
    in >> std::get_time(&t, "%Y-%m-%dT%H:%M:%S");
    std::time_t secs = timegm(&t);
    std::tm out{};
    gmtime_r(&secs, &out);  // fills weekday and day of year
    return out;
}

// "first difference at byte N: expected «...» got «...»".
QByteArray first_mismatch(const std::string& want, const std::string& got) {
    size_t i = 0;
    while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
    auto window = [&](const std::string& s) {
        size_t from = i > 40 ? i - 40 : 0;
        std::string w = s.substr(from, 100);
        std::string esc;
        for (char c : w) esc += c == '\n' ? std::string("\\n") : std::string(1, c);
        return esc;
    };
    std::ostringstream os;
    os << "first difference at byte " << i << " (expected " << want.size() << " bytes, got " << got.size()
       << ")\n  expected: «" << window(want) << "»\n  got:      «" << window(got) << "»";
    return QByteArray::fromStdString(os.str());
}

eg::Result<std::string> render_source(const std::string& source, const ordered_json& context) {
    auto t = eg::ChatTemplate::parse(source);
    if (!t) return t.error();
    eg::ChatTemplateOptions o;
    o.now = fixed_now();
    t->set_options(o);
    return t->render_context(context);
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

class TestChatTemplate : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QVERIFY2(golden().is_object(), "tests/reference/templates/golden.json is missing or unreadable");
        QVERIFY(golden()["cases"].size() >= 7 * 14);
    }

    // Every committed template x message list x add_generation_prompt.
    void realTemplates_data() {
        QTest::addColumn<int>("index");
        const auto& cases = golden()["cases"];
        for (size_t i = 0; i < cases.size(); ++i) {
            const auto& c = cases[i];
            std::string name = c["template"].get<std::string>() + "/" + c["messages"].get<std::string>() +
                               (c["add_generation_prompt"].get<bool>() ? "/gen" : "/nogen");
            QTest::newRow(name.c_str()) << static_cast<int>(i);
        }
    }
    void realTemplates() {
        QFETCH(int, index);
        const auto& c = golden()["cases"][static_cast<size_t>(index)];
        std::string source = read_file(eg_test::fixture("reference/templates/" + c["template"].get<std::string>()));
        QVERIFY(!source.empty());

        auto t = eg::ChatTemplate::parse(source);
        QVERIFY2(t.ok(), t.ok() ? "" : t.message().c_str());
        eg::ChatTemplateOptions o;
        o.now = fixed_now();
        t->set_options(o);

        const auto& messages = golden()["message_sets"][c["messages"].get<std::string>()];
        bool plain = !c.contains("extra");
        for (const auto& m : messages) plain = plain && m.size() == 2 && m.contains("role") && m.contains("content");
        eg::Result<std::string> got = std::string();
        if (plain) {  // the everyday API: role + content only
            std::vector<eg::ChatMessage> msgs;
            for (const auto& m : messages) msgs.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
            got = t->render(msgs, c["add_generation_prompt"].get<bool>(), c["bos_token"].get<std::string>(),
                            c["eos_token"].get<std::string>());
        } else {
            ordered_json ctx = c.value("extra", ordered_json::object());
            ctx["messages"] = messages;
            ctx["add_generation_prompt"] = c["add_generation_prompt"];
            ctx["bos_token"] = c["bos_token"];
            ctx["eos_token"] = c["eos_token"];
            got = t->render_context(ctx);
        }

        if (c.contains("expected")) {
            QVERIFY2(got.ok(), got.ok() ? "" : got.message().c_str());
            const std::string want = c["expected"].get<std::string>();
            QVERIFY2(*got == want, first_mismatch(want, *got).constData());
        } else {
            if (got.ok()) QFAIL(("jinja2 failed with: " + c["error"].get<std::string>() + ", we rendered: " + *got).c_str());
            if (c.value("raised", false)) {
                const std::string msg = c["error"].get<std::string>();
                QVERIFY2(contains(got.message(), msg), (got.message() + " lacks: " + msg).c_str());
            }
        }
    }

    // Small templates, one language feature each, against jinja2.
    void features_data() {
        QTest::addColumn<int>("index");
        const auto& f = golden()["features"];
        for (size_t i = 0; i < f.size(); ++i) QTest::newRow(f[i]["name"].get<std::string>().c_str()) << static_cast<int>(i);
    }
    void features() {
        QFETCH(int, index);
        const auto& c = golden()["features"][static_cast<size_t>(index)];
        auto got = render_source(c["source"].get<std::string>(), c["vars"]);
        if (c.contains("expected")) {
            QVERIFY2(got.ok(), got.ok() ? "" : got.message().c_str());
            const std::string want = c["expected"].get<std::string>();
            QVERIFY2(*got == want, first_mismatch(want, *got).constData());
        } else {
            if (got.ok()) QFAIL(("jinja2 failed with: " + c["error"].get<std::string>() + ", we rendered: " + *got).c_str());
            if (c.value("raised", false)) QVERIFY2(contains(got.message(), c["error"].get<std::string>()), got.message().c_str());
            QVERIFY2(contains(got.message(), "line "), got.message().c_str());
        }
    }

    // Broken or hostile templates: an error naming the place, never a crash or a hang.
    void malformed_data() {
        QTest::addColumn<QString>("source");
        QTest::addColumn<QString>("where");  // "line L, column C" expected in the message
        QTest::addColumn<QString>("what");   // and this phrase
        QTest::newRow("unclosed if") << "a\n{% if x %}b" << "line 2, column 4" << "never closed";
        QTest::newRow("unclosed for") << "{% for m in messages %}{{ m }}" << "line 1, column 4" << "endfor";
        QTest::newRow("unclosed var") << "ab\n  {{ x" << "line 2, column 3" << "unclosed tag";
        QTest::newRow("unclosed block") << "{% if x" << "line 1, column 1" << "unclosed tag";
        QTest::newRow("unclosed comment") << "x {# note" << "line 1, column 3" << "unclosed comment";
        QTest::newRow("unclosed string") << "{{ 'abc }}" << "line 1, column 4" << "unterminated string";
        QTest::newRow("unknown filter") << "{{ x }}\n{{ name | shout }}" << "line 2, column 11" << "unknown filter 'shout'";
        QTest::newRow("unknown test") << "{% if x is shiny %}{% endif %}" << "line 1, column 12" << "unknown test 'shiny'";
        QTest::newRow("bad expression") << "{{ 1 + }}" << "line 1, column 8" << "unexpected";
        QTest::newRow("bad bracket") << "{{ (1 ] }}" << "line 1, column 7" << "unexpected ']'";
        QTest::newRow("stray endif") << "x{% endif %}" << "line 1, column 5" << "endif";
        QTest::newRow("else without if") << "{% else %}" << "line 1, column 4" << "else";
        QTest::newRow("unknown tag") << "\n\n  {% frobnicate %}" << "line 3, column 6" << "unknown tag 'frobnicate'";
        QTest::newRow("include") << "{% include 'x.j2' %}" << "line 1, column 4" << "not supported";
        QTest::newRow("break outside loop") << "{% break %}" << "line 1, column 4" << "outside a for loop";
        QTest::newRow("set without value") << "{% set x + 1 %}" << "line 1, column 10" << "expected '='";
        QString deep = "{{ " + QString(10000, '(') + "1" + QString(10000, ')') + " }}";
        QTest::newRow("deep parens x10000") << deep << "line 1, column" << "nested too deeply";
        QString deep_not = "{{ " + QString("not ").repeated(5000) + "x }}";
        QTest::newRow("deep not x5000") << deep_not << "line 1, column" << "nested too deeply";
        QString deep_if = QString("{% if true %}").repeated(1000) + QString("{% endif %}").repeated(1000);
        QTest::newRow("deep if x1000") << deep_if << "line 1, column" << "nested too deeply";
        QString deep_list = "{{ " + QString(20000, '[') + QString(20000, ']') + " }}";
        QTest::newRow("deep brackets x20000") << deep_list << "line 1, column" << "nested too deeply";
        // Chains built by loops rather than recursion must be bounded too.
        QTest::newRow("long + chain x20000") << "{{ 1" + QString(" + 1").repeated(20000) + " }}" << "line 1, column" << "nested too deeply";
        QTest::newRow("long filter chain x5000") << "{{ 'x'" + QString(" | trim").repeated(5000) + " }}" << "line 1, column" << "nested too deeply";
        QTest::newRow("long attribute chain x5000") << "{{ a" + QString(".b").repeated(5000) + " }}" << "line 1, column" << "nested too deeply";
        QTest::newRow("long and chain x5000") << "{{ a" + QString(" and a").repeated(5000) + " }}" << "line 1, column" << "nested too deeply";
    }
    void malformed() {
        QFETCH(QString, source);
        QFETCH(QString, where);
        QFETCH(QString, what);
        auto t = eg::ChatTemplate::parse(source.toStdString());
        QVERIFY2(!t.ok(), "parsed a malformed template");
        QVERIFY2(contains(t.message(), where.toStdString()), t.message().c_str());
        QVERIFY2(contains(t.message(), what.toStdString()), t.message().c_str());
    }

    // Templates that parse but must fail while rendering, within the limits.
    void renderErrors_data() {
        QTest::addColumn<QString>("source");
        QTest::addColumn<QString>("where");
        QTest::addColumn<QString>("what");
        QTest::newRow("infinite-ish loop") << "{% for i in range(100000) %}\n{% for j in range(100000) %}{% endfor %}{% endfor %}"
                                           << "line 2, column" << "too long";
        QTest::newRow("huge range") << "{{ range(2000000000) | length }}" << "line 1, column" << "range() is too long";
        QTest::newRow("string bomb") << "{{ 'x' * 1000000000 }}" << "line 1, column 8" << "too large";
        QTest::newRow("doubling") << "{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
                                  << "line 1, column" << "too large";
        QTest::newRow("output bomb") << "{% for i in range(1000000) %}{{ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }}{% endfor %}"
                                     << "line 1, column" << "output exceeds";
        QTest::newRow("macro recursion") << "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}" << "line 1, column" << "nested too deeply";
        QTest::newRow("int overflow") << "{{ 9223372036854775807 + 1 }}" << "line 1, column 24" << "overflow";
        QTest::newRow("undefined attribute") << "\n{{ nope.attr }}" << "line 2, column" << "'nope' is undefined";
        QTest::newRow("not iterable") << "{% for x in 5 %}{% endfor %}" << "line 1, column 4" << "not iterable";
        QTest::newRow("undefined call") << "{{ nothing(1) }}" << "line 1, column" << "'nothing' is undefined";
        QTest::newRow("str + int") << "{{ 'a' + 1 }}" << "line 1, column 8" << "concatenate";
        QTest::newRow("map unknown filter") << "{{ [1] | map('nofilter') | list }}" << "line 1, column" << "unknown filter 'nofilter'";
        QTest::newRow("set attr on non-namespace") << "{% set d = {} %}{% set d.x = 1 %}" << "line 1, column" << "not a namespace";
        QTest::newRow("printf formatting") << "{{ '%s' % 1 }}" << "line 1, column" << "not supported";
        QTest::newRow("raise") << "{{ raise_exception('No system role, please') }}" << "line 1, column" << "No system role, please";
        QTest::newRow("list method") << "{% set l = [] %}{{ l.append(1) }}" << "line 1, column" << "has no attribute 'append'";
        QTest::newRow("print a generator") << "{{ messages | map(attribute='role') }}" << "line 1, column" << "generator";
        QTest::newRow("value nesting bomb") << "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}"
                                            << "line 1, column" << "nested too deeply";
        QTest::newRow("namespace cycle") << "{% set ns = namespace() %}{% set ns.me = [ns] %}{{ ns }}" << "line 1, column" << "cannot hold a namespace";
    }
    void renderErrors() {
        QFETCH(QString, source);
        QFETCH(QString, where);
        QFETCH(QString, what);
        auto t = eg::ChatTemplate::parse(source.toStdString());
        QVERIFY2(t.ok(), t.ok() ? "" : t.message().c_str());
        eg::ChatTemplateOptions o;
        o.max_output_bytes = 1 << 20;
        t->set_options(o);
        auto r = t->render({{"user", "hi"}}, true, "<s>", "</s>");
        QVERIFY2(!r.ok(), "rendered a template that should fail");
        QVERIFY2(contains(r.message(), where.toStdString()), r.message().c_str());
        QVERIFY2(contains(r.message(), what.toStdString()), r.message().c_str());
    }

    // Expression-language details checked by hand (the golden features cover the rest).
    void expressions_data() {
        QTest::addColumn<QString>("source");
        QTest::addColumn<QString>("expected");
        QTest::newRow("precedence") << "{{ 2 + 3 * 4 ** 2 // 5 }}" << "11";
        QTest::newRow("filter binds tighter than +") << "{{ 'a' + ' b ' | trim + 'c' }}" << "abc";
        QTest::newRow("unary minus then filter") << "{{ -3 | abs }}" << "3";
        QTest::newRow("chained compare") << "{{ 1 < 2 > 1 }}{{ 3 < 2 < 5 }}" << "TrueFalse";
        QTest::newRow("not in") << "{{ 'x' not in 'abc' }}{{ not 'x' in 'abc' }}" << "TrueTrue";
        QTest::newRow("ternary chain") << "{{ 'a' if false else 'b' if false else 'c' }}" << "c";
        QTest::newRow("is not defined") << "{{ messages is not defined }}{{ nope is not defined }}" << "FalseTrue";
        QTest::newRow("messages access") << "{{ messages[0].role }}:{{ messages[-1]['content'] }}:{{ messages | length }}" << "user:hi:1";
        QTest::newRow("loop over messages") << "{% for m in messages %}{{ loop.index }}{{ m.role[0] }}{% endfor %}" << "1u";
        QTest::newRow("bos/eos/gen") << "{{ bos_token }}{{ add_generation_prompt }}{{ eos_token }}" << "<s>True</s>";
        QTest::newRow("namespace in loop") << "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}" << "1";
        QTest::newRow("dict literal nested }}") << "{{ {'a': {'b': 'c'}}['a']['b'] }}" << "c";
        QTest::newRow("string escapes") << R"({{ '\u00e9\x41\n' | length }})" << "3";
        QTest::newRow("slice by code point") << "{{ 'h\xc3\xa9llo'[1:3] }}" << "\xc3\xa9l";
        QTest::newRow("generation block") << "{% generation %}x{% endgeneration %}" << "x";
        QTest::newRow("CRLF normalised") << "{% if true %}\r\nA\r\n{% endif %}\r\n" << "A\n";
    }
    void expressions() {
        QFETCH(QString, source);
        QFETCH(QString, expected);
        auto t = eg::ChatTemplate::parse(source.toStdString());
        QVERIFY2(t.ok(), t.ok() ? "" : t.message().c_str());
        auto r = t->render({{"user", "hi"}}, true, "<s>", "</s>");
        QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
        QCOMPARE(QString::fromStdString(*r), expected);
    }

    // Deeply nested input data (e.g. a hostile tools schema) is refused, not recursed into.
    void deepInputRefused() {
        auto t = eg::ChatTemplate::parse("{{ tools | tojson }}");
        QVERIFY(t.ok());
        std::string text = std::string(100000, '[') + std::string(100000, ']');
        ordered_json ctx;
        ctx["tools"] = ordered_json::parse(text);
        auto r = t->render_context(ctx);
        QVERIFY(!r.ok());
        QVERIFY2(contains(r.message(), "nested too deeply"), r.message().c_str());
    }

    void chatmlFallback() {
        auto t = eg::ChatTemplate::parse(eg::chatml_template_source());
        QVERIFY2(t.ok(), t.ok() ? "" : t.message().c_str());
        auto r = t->render({{"system", "S"}, {"user", "U"}}, true, "", "");
        QVERIFY(r.ok());
        QCOMPARE(QString::fromStdString(*r),
                 QString("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"));
    }

    // Without an injected date, strftime_now uses today's date.
    void strftimeUsesClockByDefault() {
        auto t = eg::ChatTemplate::parse("{{ strftime_now('%Y') }}");
        QVERIFY(t.ok());
        auto r = t->render({}, false, "", "");
        QVERIFY(r.ok());
        std::time_t now = std::time(nullptr);
        std::tm local{};
        localtime_r(&now, &local);
        QCOMPARE(QString::fromStdString(*r), QString::number(local.tm_year + 1900));
    }
};

QTEST_APPLESS_MAIN(TestChatTemplate)
#include "test_chat_template.moc"
