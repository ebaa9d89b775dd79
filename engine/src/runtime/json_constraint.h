// Constrained sampling for JSON replies (OpenAI's response_format, forced
// tool calls): a character-level matcher of JSON, optionally shaped by a JSON
// schema, that says which tokens may come next, so the reply always parses
// (unless max_tokens cuts it). generate() asks it about each sampled token
// and draws again when it refuses.
//
// Schemas: the subset that describes replies — "type" object (with
// "properties"; every property is written, in the schema's order; without
// "properties" any members), array ("items"), string, number, integer,
// boolean, null; "enum" of strings; "const" string; "maxItems" (arrays) and
// "maxLength" (strings, in characters as written), which bound a reply that
// would otherwise fill an array or a string until max_tokens cuts it.
// "anyOf", "oneOf", type lists and the rest are refused by name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace eg {

class Tokenizer;

namespace json_match {
struct Node;  // a compiled schema node
}

// Which tokens may continue a reply; generate() consults it (GenerateOptions::constraint).
class TokenConstraint {
public:
    virtual ~TokenConstraint() = default;
    virtual bool allows(int32_t token) const = 0;
    virtual void accept(int32_t token) = 0;
    // The reply is whole: generation ends here.
    virtual bool complete() const = 0;
};

class JsonConstraint final : public TokenConstraint {
public:
    // schema: null for any JSON object; else a schema of the subset above.
    static Result<std::unique_ptr<JsonConstraint>> create(const Tokenizer& tok, const nlohmann::ordered_json& schema);
    ~JsonConstraint() override;

    bool allows(int32_t token) const override;
    void accept(int32_t token) override;
    bool complete() const override;

    // The matcher on text (for tests): feeds text, false at the first
    // character no reply of the schema could have there.
    bool feed(std::string_view text);

    struct Frame;

private:
    JsonConstraint(const Tokenizer& tok, std::shared_ptr<const json_match::Node> root);
    const Tokenizer& tok_;
    std::shared_ptr<const json_match::Node> root_;
    std::vector<Frame> stack_;
    bool done_ = false;
    int trailing_ws_ = 0;
};

// Checks a schema against the subset without a tokenizer: "" when it is
// usable, else the sentence saying why not.
std::string check_json_schema(const nlohmann::ordered_json& schema);

}  // namespace eg
