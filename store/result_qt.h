// The engine's error convention (eg::Result<T> / eg::Status, core/result.h)
// with Qt strings, for the whole Qt layer (the store, the model library, the
// view-models): a fallible call returns one of them; its message is the
// sentence the user reads. It sits in store/, the lowest Qt layer.
#pragma once

#include <QString>

#include "core/result.h"

namespace eg {

inline eg::Error to_error(const QString& message) { return eg::make_error(message.toStdString()); }

// The message of a failed Result or Status (only call it on a failure).
template <class R>
QString error_text(const R& r) {
    return QString::fromStdString(r.message());
}

}  // namespace eg
