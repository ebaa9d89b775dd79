// eg::GenerationSettings (engine/src/runtime/generation_settings.h) as the
// map QML's settings drawer edits and the store saves as JSON, and back.
// Only here do the settings have names; everywhere else they are fields.
#pragma once

#include <QVariantMap>

#include "runtime/generation_settings.h"

namespace eg::ui {

// {temperature, top_p, top_k, min_p, repeat_penalty, max_tokens, seed}; the
// system prompt is not in it (the controller's systemPrompt property).
QVariantMap settings_to_map(const eg::GenerationSettings& s);

// s with the known keys of `changes` set; other keys are ignored.
eg::GenerationSettings settings_merged(eg::GenerationSettings s, const QVariantMap& changes);

}  // namespace eg::ui
