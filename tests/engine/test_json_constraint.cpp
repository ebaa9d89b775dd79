// Constrained JSON replies (runtime/json_constraint.h): the matcher takes
// exactly the texts that parse as JSON of the schema, and a constrained
// generation on the real model always ends in a reply that parses and has
// the schema's shape.
#include <QtTest>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "json_constraint_cases.h"
#include "model/model.h"
#include "runtime/generate.h"
#include "runtime/json_constraint.h"
#include "runtime/session.h"
#include "test_env.h"
#include "tokenizer/tokenizer.h"

using json = nlohmann::ordered_json;

namespace {
const json kPerson = json::parse(json_cases::k0);
const json kShort = json::parse(json_cases::k13);
}  // namespace

class TestJsonConstraint : public QObject {
    Q_OBJECT
    std::unique_ptr<eg::Model> model_;

    // Whole text through a fresh matcher: accepted and complete?
    std::pair<bool, bool> match(const json& schema, const std::string& text) {
        auto c = eg::JsonConstraint::create(model_->tokenizer(), schema);
        if (!c) return {false, false};
        const bool fed = c.value()->feed(text);
        return {fed, c.value()->complete()};
    }

private slots:
    void initTestCase() {
        auto m = eg::Model::load(eg_test::default_model_path());
        if (!m) QSKIP("the default model is missing: run scripts/fetch-model.sh");
        model_ = std::move(m.value());
    }

    void texts_of_the_schema_are_taken_whole() {
        QCOMPARE(match(kPerson, std::string(json_cases::k1) + json_cases::k2),
                 std::make_pair(true, true));
        QCOMPARE(match(kPerson, "{\n  \"name\":\"\\u00e9t\\u00e9\",\"age\":0,\"tags\":[],\"mood\":\"happy\",\"pet\":{\"kind\":\"\"},"
                                "\"ok\":false,\"score\":0.25\n}"),
                 std::make_pair(true, true));
        QCOMPARE(match(nullptr, json_cases::k3), std::make_pair(true, true));
        QCOMPARE(match(kPerson, json_cases::k4), std::make_pair(true, false));  // a prefix: not complete
    }

    void texts_off_the_schema_are_refused_where_they_go_wrong() {
        QCOMPARE(match(kPerson, json_cases::k5).first, false);              // a property it does not have
        QCOMPARE(match(kPerson, json_cases::k6).first, false);             // a number for a string
        QCOMPARE(match(kPerson, json_cases::k7).first, false);  // integer
        QCOMPARE(match(kPerson, json_cases::k8).first, false);
        QCOMPARE(match(kPerson, json_cases::k9).first, false);
        QCOMPARE(match(kPerson, json_cases::k10).first, false);          // the other properties are missing
        QCOMPARE(match(nullptr, "[1]").first, false);                       // json_object: an object
        QCOMPARE(match(nullptr, "{\"a\": tru }").first, false);
        QCOMPARE(match(nullptr, "{\"a\": \"x\ny\"}").first, false);          // a raw newline in a string
        QCOMPARE(match(nullptr, "{}  x").first, false);                     // nothing after the value
        QCOMPARE(match(nullptr, "{" + std::string(40, ' ')).first, false);   // whitespace cannot go on for ever
        QCOMPARE(match(nullptr, "{\"n\": " + std::string(20, '7') + "}"), std::make_pair(true, true));
        QCOMPARE(match(nullptr, "{\"n\": " + std::string(21, '7')).first, false);  // nor can digits
    }

    void max_items_and_max_length_bound_a_reply() {
        const json bounded = json::parse(json_cases::k14);
        QCOMPARE(match(bounded, json_cases::k15), std::make_pair(true, true));
        QCOMPARE(match(bounded, json_cases::k16).first, false);  // a third item
        QCOMPARE(match(bounded, json_cases::k17).first, false);  // a fifth character
        QCOMPARE(match(bounded, json_cases::k18), std::make_pair(true, true));  // four characters, two of them é
    }

    void unsupported_schemas_are_named() {
        QVERIFY(eg::check_json_schema(json::parse(json_cases::k11)).find("anyOf") != std::string::npos);
        QVERIFY(!eg::check_json_schema(json::parse(json_cases::k12)).empty());  // the root must be an object
        QVERIFY(eg::check_json_schema(kPerson).empty());
    }

    // On the real model, at temperature 1, every reply parses and has the
    // schema's properties with the schema's types. (Arrays and strings have
    // no length bound here: a model may fill one until max_tokens cuts it.)
    void constrained_replies_of_the_model_always_parse() {
        eg::SessionOptions so;
        so.n_ctx = 512;
        auto s = eg::Session::create(*model_, so);
        EG_VERIFY_OK(s);
        const eg::Tokenizer& tok = model_->tokenizer();
        const std::vector<int32_t> prompt =
            tok.encode("<|im_start|>user\nDescribe a person as JSON.<|im_end|>\n<|im_start|>assistant\n", true, true);
        for (uint64_t seed = 1; seed <= 3; ++seed) {
            auto c = eg::JsonConstraint::create(tok, kShort);
            EG_VERIFY_OK(c);
            eg::GenerateOptions opt;
            opt.max_tokens = 200;
            opt.sampling.temperature = 1.0f;
            opt.sampling.seed = seed;
            opt.constraint = c.value().get();
            auto r = eg::generate(*s.value(), prompt, opt, {});
            EG_VERIFY_OK(r);
            QVERIFY2(r.value().stop_reason == eg::StopReason::EndOfGeneration, r.value().text.c_str());
            const json j = json::parse(r.value().text, nullptr, false);
            QVERIFY2(!j.is_discarded(), r.value().text.c_str());
            QVERIFY(j["name"].is_string() && j["age"].is_number_integer() && j["pet"]["kind"].is_string() &&
                    j["ok"].is_boolean());
            QVERIFY(j["mood"] == "happy" || j["mood"] == "sad");
        }
    }
};

QTEST_APPLESS_MAIN(TestJsonConstraint)
#include "test_json_constraint.moc"
