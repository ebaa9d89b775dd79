// A file path as a person types or a dialog hands it over: "~" or "~/x" is
// the home folder, a file: URL its local file, anything else a path made
// absolute. One reading for every field that takes a path (the model file
// chooser, the export dialog).
#pragma once

#include <QString>

namespace eg::ui {

// The local path `typed` names; empty when it names none (empty, or a URL
// of another scheme such as http:).
QString local_path_from_typed(const QString& typed);

}  // namespace eg::ui
