// Texts and schemas of test_json_constraint.cpp, apart from it: moc (Qt 6.4)
// cannot read raw string literals, and these are JSON.
#pragma once

namespace json_cases {
inline constexpr const char* k0 = R"({"type":"object","properties":{
    "name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}},
    "mood":{"enum":["happy","sad"]},"pet":{"type":"object","properties":{"kind":{"type":"string"}}},
    "ok":{"type":"boolean"},"score":{"type":"number"}}})";
inline constexpr const char* k1 = R"({"name": "Ann", "age": 41, "tags": ["a", "b\"c"], "mood": "sad",)";
inline constexpr const char* k2 = R"( "pet": {"kind": "cat"}, "ok": true, "score": -1.5e3})";
inline constexpr const char* k3 = R"({"any": [1, {"x": null}, "y", true], "n": -0.5})";
inline constexpr const char* k4 = R"({"name": "Ann")";
inline constexpr const char* k5 = R"({"nome": )";
inline constexpr const char* k6 = R"({"name": 3)";
inline constexpr const char* k7 = R"({"name": "A", "age": 4.5)";
inline constexpr const char* k8 = R"({"name": "A", "age": 4, "tags": [1)";
inline constexpr const char* k9 = R"({"name": "A", "age": 4, "tags": [], "mood": "angry")";
inline constexpr const char* k10 = R"({"name": "A"})";
inline constexpr const char* k11 = R"({"type":"object","anyOf":[]})";
inline constexpr const char* k12 = R"({"type":"string"})";
inline constexpr const char* k13 = R"({"type":"object","properties":{"name":{"type":"string"},
    "age":{"type":"integer"},"mood":{"enum":["happy","sad"]},"pet":{"type":"object","properties":{"kind":{"type":"string"}}},
    "ok":{"type":"boolean"}}})";
inline constexpr const char* k14 = R"({"type":"object","properties":{"a":{"type":"array","maxItems":2,
    "items":{"type":"string","maxLength":4}}}})";
inline constexpr const char* k15 = R"({"a": ["abcd", ""]})";
inline constexpr const char* k16 = R"({"a": ["x", "y", )";
inline constexpr const char* k17 = R"({"a": ["abcde)";
inline constexpr const char* k18 = R"({"a": ["éaéb"]})";
}  // namespace json_cases
