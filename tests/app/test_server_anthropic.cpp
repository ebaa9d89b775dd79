// Anthropic's Messages API as parsed and answered (app/src/server/
// anthropic_api.h), without a model: a request's system, text, tool_use and
// tool_result blocks and tools become the OpenAI-shaped messages and tools
// the one tool-call path renders; what is not Anthropic's is refused by
// name; errors, stop reasons and stream events have Anthropic's shapes.
// test_server drives the real endpoint with the official client.
#include <QtTest>

#include <nlohmann/json.hpp>

#include "server/anthropic_api.h"

using json = nlohmann::ordered_json;
using eg::server::CompletionRequest;
using eg::server::Limits;
using eg::server::ToolChoice;

namespace {
std::optional<eg::server::ApiError> parse(const json& body, CompletionRequest& out) {
    return eg::server::parse_messages_request(body.dump(), Limits{}, out);
}
json minimal() {
    return json{{"model", "m"}, {"max_tokens", 16}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
}
json weather_tool() {
    return json{{"name", "get_weather"},
                {"description", "The weather in a city"},
                {"input_schema", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}};
}
}  // namespace

class TestServerAnthropic : public QObject {
    Q_OBJECT
private slots:
    void a_round_trip_becomes_the_openai_shaped_messages() {
        json body = minimal();
        body["system"] = json::array({{{"type", "text"}, {"text", "Be brief. "}}, {{"type", "text"}, {"text", "Be kind."}}});
        body["messages"] = json::array(
            {{{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", "Weather in Paris?"}}})}},
             {{"role", "assistant"},
              {"content", json::array({{{"type", "text"}, {"text", "Let me look."}},
                                       {{"type", "tool_use"}, {"id", "toolu_1"}, {"name", "get_weather"},
                                        {"input", {{"city", "Paris"}}}}})}},
             {{"role", "user"},
              {"content", json::array({{{"type", "tool_result"}, {"tool_use_id", "toolu_1"},
                                        {"content", json::array({{{"type", "text"}, {"text", "18 C"}}})}},
                                       {{"type", "text"}, {"text", "Thanks!"}}})}}});
        body["tools"] = json::array({weather_tool()});
        body["tool_choice"] = {{"type", "auto"}};
        body["top_k"] = 40;
        body["stop_sequences"] = json::array({"END"});
        body["temperature"] = 0.5;
        body["metadata"] = {{"user_id", "u1"}};
        CompletionRequest r;
        const auto err = parse(body, r);
        QVERIFY2(!err, err ? err->message.c_str() : "");
        QCOMPARE(r.endpoint, eg::server::Endpoint::Messages);
        QCOMPARE(r.max_tokens, int64_t{16});
        QCOMPARE(r.top_k, int64_t{40});
        QCOMPARE(r.temperature, 0.5);
        QCOMPARE(r.stop, std::vector<std::string>{"END"});
        QCOMPARE(r.tool_choice, ToolChoice::Auto);
        const json want = json::array(
            {{{"role", "system"}, {"content", "Be brief. Be kind."}},
             {{"role", "user"}, {"content", "Weather in Paris?"}},
             {{"role", "assistant"},
              {"content", "Let me look."},
              {"tool_calls", json::array({{{"id", "toolu_1"},
                                           {"type", "function"},
                                           {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Paris\"}"}}}}})}},
             {{"role", "tool"}, {"tool_call_id", "toolu_1"}, {"content", "18 C"}},
             {{"role", "user"}, {"content", "Thanks!"}}});
        QCOMPARE(r.raw_messages, want);
        QCOMPARE(r.tools, json::array({{{"type", "function"},
                                        {"function", {{"name", "get_weather"},
                                                      {"description", "The weather in a city"},
                                                      {"parameters", weather_tool()["input_schema"]}}}}}));
        // For a template without tools: the Hermes text form, as OpenAI's requests get.
        QCOMPARE(r.messages.size(), size_t{5});
        QVERIFY(r.messages[0].content.find("get_weather") != std::string::npos);
        QCOMPARE(r.messages[3].content, std::string("<tool_response>\n18 C\n</tool_response>"));
    }

    void tool_choice_maps_onto_the_openai_choices() {
        for (const auto& [choice, want] : {std::pair{json{{"type", "auto"}}, ToolChoice::Auto},
                                           std::pair{json{{"type", "any"}}, ToolChoice::Required},
                                           std::pair{json{{"type", "tool"}, {"name", "get_weather"}}, ToolChoice::Named},
                                           std::pair{json{{"type", "none"}}, ToolChoice::None}}) {
            json body = minimal();
            body["tools"] = json::array({weather_tool()});
            body["tool_choice"] = choice;
            CompletionRequest r;
            const auto err = parse(body, r);
            QVERIFY2(!err, err ? err->message.c_str() : "");
            QCOMPARE(r.tool_choice, want);
        }
        CompletionRequest r;
        json body = minimal();
        QVERIFY(!parse(body, r));
        QCOMPARE(r.tool_choice, ToolChoice::None);
        QCOMPARE(r.top_k, int64_t{0});
        QCOMPARE(r.temperature, 1.0);
    }

    void what_is_not_anthropic_or_not_supported_is_refused_by_name() {
        struct Case {
            const char* what;
            std::function<void(json&)> change;
            const char* names;
        };
        const std::vector<Case> cases = {
            {"no max_tokens", [](json& b) { b.erase("max_tokens"); }, "max_tokens"},
            {"max_tokens past the cap", [](json& b) { b["max_tokens"] = 1 << 20; }, "max_tokens"},
            {"no model", [](json& b) { b.erase("model"); }, "model"},
            {"an OpenAI field", [](json& b) { b["frequency_penalty"] = 1; }, "frequency_penalty"},
            {"temperature past 1", [](json& b) { b["temperature"] = 1.5; }, "temperature"},
            {"negative top_k", [](json& b) { b["top_k"] = -1; }, "top_k"},
            {"stop_sequences as a string", [](json& b) { b["stop_sequences"] = "x"; }, "stop_sequences"},
            {"too many stop_sequences", [](json& b) { b["stop_sequences"] = json::array({"a", "b", "c", "d", "e"}); },
             "stop_sequences"},
            {"a system role", [](json& b) { b["messages"][0]["role"] = "system"; }, "messages[0].role"},
            {"an image", [](json& b) { b["messages"][0]["content"] = json::array({{{"type", "image"}}}); },
             "messages[0].content[0]"},
            {"no content blocks", [](json& b) { b["messages"][0]["content"] = json::array(); }, "messages[0].content"},
            {"tool_use from the user",
             [](json& b) {
                 b["messages"][0]["content"] =
                     json::array({{{"type", "tool_use"}, {"id", "t"}, {"name", "n"}, {"input", json::object()}}});
             },
             "messages[0].content[0]"},
            {"tool input not an object",
             [](json& b) {
                 b["messages"].push_back({{"role", "assistant"},
                                          {"content", json::array({{{"type", "tool_use"}, {"id", "t"}, {"name", "n"}, {"input", "x"}}})}});
             },
             "messages[1].content[0].input"},
            {"a tool without input_schema", [](json& b) { b["tools"] = json::array({{{"name", "f"}}}); },
             "tools[0].input_schema"},
            {"a server tool", [](json& b) { b["tools"] = json::array({{{"type", "web_search_20250305"}, {"name", "web_search"}}}); },
             "tools[0].type"},
            {"tool_choice names an unknown tool",
             [](json& b) {
                 b["tools"] = json::array({weather_tool()});
                 b["tool_choice"] = {{"type", "tool"}, {"name", "rm_rf"}};
             },
             "rm_rf"},
            {"tool_choice any without tools", [](json& b) { b["tool_choice"] = {{"type", "any"}}; }, "tool_choice"},
        };
        for (const Case& c : cases) {
            json body = minimal();
            c.change(body);
            CompletionRequest r;
            const auto err = parse(body, r);
            QVERIFY2(err, c.what);
            QVERIFY2(err->http_status == 400, c.what);
            QVERIFY2(err->message.find(c.names) != std::string::npos, (std::string(c.what) + ": " + err->message).c_str());
        }
        CompletionRequest r;
        auto err = eg::server::parse_messages_request("{\"model\": ", Limits{}, r);
        QVERIFY(err && err->http_status == 400);
        Limits small;
        small.max_body_bytes = 10;
        err = eg::server::parse_messages_request(minimal().dump(), small, r);
        QVERIFY(err && err->http_status == 413);
    }

    // count_tokens' body: no max_tokens (the prompt alone is counted), no sampling.
    void a_count_tokens_body_is_a_messages_body_without_the_reply() {
        json body = minimal();
        body.erase("max_tokens");
        body["tools"] = json::array({weather_tool()});
        CompletionRequest r;
        const auto err = eg::server::parse_messages_request(body.dump(), Limits{}, r, /*count_tokens=*/true);
        QVERIFY2(!err, err ? err->message.c_str() : "");
        QCOMPARE(r.max_tokens, int64_t{1});
        QCOMPARE(r.tool_choice, ToolChoice::Auto);
        for (const char* key : {"max_tokens", "stream", "temperature"}) {
            json b = body;
            b[key] = key == std::string("stream") ? json(true) : json(1);
            const auto e = eg::server::parse_messages_request(b.dump(), Limits{}, r, true);
            QVERIFY2(e && e->message.find(key) != std::string::npos, key);
        }
        QVERIFY(eg::server::parse_messages_request(body.dump(), Limits{}, r));  // /v1/messages needs max_tokens
    }

    void errors_stop_reasons_and_events_have_anthropic_shapes() {
        using eg::server::anthropic_error_json;
        using eg::server::ApiError;
        for (const auto& [status, type] : {std::pair{400, "invalid_request_error"}, std::pair{401, "authentication_error"},
                                           std::pair{404, "not_found_error"}, std::pair{413, "request_too_large"},
                                           std::pair{429, "rate_limit_error"}, std::pair{500, "api_error"},
                                           std::pair{503, "overloaded_error"}}) {
            const json j = anthropic_error_json(ApiError{status, "why"});
            QCOMPARE(j, json({{"type", "error"}, {"error", {{"type", type}, {"message", "why"}}}}));
        }
        using eg::server::anthropic_stop_reason;
        QCOMPARE(anthropic_stop_reason("stop", "", false), std::string("end_turn"));
        QCOMPARE(anthropic_stop_reason("stop", "END", false), std::string("stop_sequence"));
        QCOMPARE(anthropic_stop_reason("length", "", false), std::string("max_tokens"));
        QCOMPARE(anthropic_stop_reason("stop", "", true), std::string("tool_use"));

        const eg::server::ReplyIds ids{"msg_1", 0, "m"};
        const json m = eg::server::message_json(ids, json::array({eg::server::text_block("hi")}), "stop_sequence", "END",
                                                eg::server::Usage{7, 2});
        QCOMPARE(m.dump(), std::string("{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
                                       "\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],\"stop_reason\":\"stop_sequence\","
                                       "\"stop_sequence\":\"END\",\"usage\":{\"input_tokens\":7,\"output_tokens\":2}}"));
        const json call = eg::server::tool_use_block("toolu_1", eg::server::ToolCall{"f", "{\"a\":1}"});
        QCOMPARE(call, json({{"type", "tool_use"}, {"id", "toolu_1"}, {"name", "f"}, {"input", {{"a", 1}}}}));
        QCOMPARE(eg::server::tool_use_block("toolu_1", eg::server::ToolCall{"f", "{\"a\":1}"}, true)["input"], json::object());
        QCOMPARE(eg::server::message_start_event(ids, 0)["message"]["stop_reason"], json());
        QCOMPARE(eg::server::text_delta_event(0, "x").dump(),
                 std::string("{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}"));
        QCOMPARE(eg::server::input_json_delta_event(1, "{}")["delta"]["type"], json("input_json_delta"));
        QCOMPARE(eg::server::message_delta_event("end_turn", "", eg::server::Usage{7, 2}).dump(),
                 std::string("{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
                             "\"usage\":{\"input_tokens\":7,\"output_tokens\":2}}"));
    }
};

QTEST_APPLESS_MAIN(TestServerAnthropic)
#include "test_server_anthropic.moc"
