#include "settings_map.h"

namespace eg::ui {

QVariantMap settings_to_map(const eg::GenerationSettings& s) {
    return {{QStringLiteral("temperature"), s.temperature},
            {QStringLiteral("top_p"), s.top_p},
            {QStringLiteral("top_k"), s.top_k},
            {QStringLiteral("min_p"), s.min_p},
            {QStringLiteral("repeat_penalty"), s.repeat_penalty},
            {QStringLiteral("max_tokens"), (qint64)s.max_tokens},
            {QStringLiteral("seed"), (qint64)s.seed}};
}

eg::GenerationSettings settings_merged(eg::GenerationSettings s, const QVariantMap& changes) {
    const auto set = [&](const char* key, auto& field) {
        const QVariant v = changes.value(QLatin1String(key));
        if (!v.isValid() || v.isNull()) return;
        using T = std::remove_reference_t<decltype(field)>;
        if constexpr (std::is_floating_point_v<T>) field = v.toDouble();
        else field = (T)v.toLongLong();
    };
    set("temperature", s.temperature);
    set("top_p", s.top_p);
    set("top_k", s.top_k);
    set("min_p", s.min_p);
    set("repeat_penalty", s.repeat_penalty);
    set("max_tokens", s.max_tokens);
    set("seed", s.seed);
    return s;
}

}  // namespace eg::ui
