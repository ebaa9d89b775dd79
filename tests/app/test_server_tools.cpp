// Tool calls for templates (app/src/server/tools.h): a template that reads
// tools (Qwen2.5's, the committed fixture) gets the tools and the calls in
// the form it writes itself — arguments as objects, results as tool turns —
// and a template that does not gets them as Hermes-style text; a reply is
// parsed back into calls only when it names an offered tool.
#include <QFile>
#include <QtTest>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "server/tools.h"
#include "test_env.h"

using json = nlohmann::ordered_json;

namespace {
json weather_tools() {
    return json::array({{{"type", "function"},
                         {"function",
                          {{"name", "get_weather"},
                           {"description", "The weather in a city"},
                           {"parameters", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}}}});
}
json round_trip() {
    return json::array(
        {{{"role", "user"}, {"content", "Weather in Paris?"}},
         {{"role", "assistant"},
          {"content", nullptr},
          {"tool_calls", json::array({{{"id", "call_1"},
                                       {"type", "function"},
                                       {"function", {{"name", "get_weather"}, {"arguments", "{\"city\": \"Paris\"}"}}}}})}},
         {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "18 C, sunny"}}});
}
}  // namespace

class TestServerTools : public QObject {
    Q_OBJECT
private slots:
    void a_template_that_reads_tools_writes_them_and_the_calls() {
        QFile f(QString::fromStdString(eg_test::fixture("reference/templates/Qwen-Qwen2.5-7B-Instruct.jinja")));
        QVERIFY(f.open(QIODevice::ReadOnly));
        auto t = eg::ChatTemplate::parse(f.readAll().toStdString());
        EG_VERIFY_OK(t);
        auto text = t.value().render_context(json{{"messages", eg::server::template_messages(round_trip())},
                                                  {"tools", weather_tools()},
                                                  {"add_generation_prompt", true},
                                                  {"bos_token", ""},
                                                  {"eos_token", "<|im_end|>"}});
        EG_VERIFY_OK(text);
        const std::string& s = text.value();
        QVERIFY2(s.find("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"") != std::string::npos,
                 s.c_str());
        // The call's arguments went in as an object, not a string of JSON.
        QVERIFY2(s.find("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>") !=
                     std::string::npos,
                 s.c_str());
        QVERIFY2(s.find("<tool_response>\n18 C, sunny\n</tool_response>") != std::string::npos, s.c_str());
        QVERIFY(s.size() > 20 && s.substr(s.size() - 22) == "<|im_start|>assistant\n");
    }

    void a_template_without_tools_gets_them_as_text() {
        const auto msgs = eg::server::text_messages(round_trip(), weather_tools());
        QCOMPARE(msgs.size(), size_t{4});
        QCOMPARE(msgs[0].role, std::string("system"));
        QVERIFY(msgs[0].content.find("\"name\":\"get_weather\"") != std::string::npos);
        QCOMPARE(msgs[2].role, std::string("assistant"));
        QCOMPARE(msgs[2].content, std::string("<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n</tool_call>"));
        QCOMPARE(msgs[3].role, std::string("user"));
        QCOMPARE(msgs[3].content, std::string("<tool_response>\n18 C, sunny\n</tool_response>"));
        // No tools offered: the messages alone.
        QCOMPARE(eg::server::text_messages(json::array({{{"role", "user"}, {"content", "hi"}}}), json::array()).size(), size_t{1});
    }

    void replies_are_parsed_into_calls_of_offered_tools_only() {
        using eg::server::parse_tool_calls;
        auto r = parse_tool_calls("Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>",
                                  weather_tools());
        QCOMPARE(r.calls.size(), size_t{1});
        QCOMPARE(r.calls[0].name, std::string("get_weather"));
        QCOMPARE(json::parse(r.calls[0].arguments), json({{"city", "Oslo"}}));
        QCOMPARE(r.content, std::string("Let me look."));
        // A bare call object (a forced call's form), arguments given as a string of JSON too.
        r = parse_tool_calls("{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Rome\\\"}\"}", weather_tools());
        QCOMPARE(r.calls.size(), size_t{1});
        QCOMPARE(json::parse(r.calls[0].arguments), json({{"city", "Rome"}}));
        // A tool that was not offered, or broken JSON, stays text.
        r = parse_tool_calls("<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>", weather_tools());
        QVERIFY(r.calls.empty());
        QCOMPARE(r.content, std::string("<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>"));
        r = parse_tool_calls("<tool_call>{\"name\": \"get_weather\", </tool_call>", weather_tools());
        QVERIFY(r.calls.empty());
        QVERIFY(parse_tool_calls("It is sunny.", weather_tools()).calls.empty());
    }

    void a_forced_call_is_shaped_by_the_function() {
        const json s = eg::server::forced_call_schema(weather_tools(), "get_weather");
        QCOMPARE(s["properties"]["name"]["enum"], json::array({"get_weather"}));
        QCOMPARE(s["properties"]["arguments"]["properties"]["city"]["type"], json("string"));
    }
};

QTEST_APPLESS_MAIN(TestServerTools)
#include "test_server_tools.moc"
