#!/usr/bin/env python3
"""Checks which parts of the source tree include which (CTest: repo.include_order).

    scripts/check-includes.py [REPO_ROOT]

The engine's CMake targets already make an include up their order fail to
compile (engine/CMakeLists.txt), but only in the files a target compiles: a
header that no library of its own folder includes is never compiled there.
This reads every #include of every source and header instead and fails when

  * an engine folder includes a folder that is not among its dependencies
    (EG_DEPS_<folder> in engine/CMakeLists.txt and theirs, the same graph the
    CMake targets have), in particular one later in EG_ENGINE_LAYERS;
  * engine/ or engram/ includes a Qt header (<Q...>), or a header of ui/,
    app/ or the store;
  * engine/ includes engram/ (engram sits on top of the engine).

An include is resolved the way the compiler would find it: next to the file
first, then in each include root (ROOTS); the area of the header found (AREAS)
must be one the including file's area may include (RULES). Includes found in
no root (system headers, generated moc/ui files) are not checked.
"""

import os
import re
import sys

# Areas by directory, first match wins ("engine/<folder>" areas are added
# from engine/src).
AREAS = [
    ("store", "store"),
    ("library", "library"),
    ("app", "app"),
    ("ui", "ui"),
    ("engram", "engram"),
]

# Directories the sources are read from (those that exist).
SCANNED = ["engine/src", "engram/src", "ui/src", "app/src", "app/cli", "app/bench", "store", "library"]

# An area another may include only through these headers: ui's view-models,
# which app/ builds and hands to QML; the rest of ui/src is ui's own.
PUBLIC = {
    "ui": {"ui/src/" + h for h in ("chat_controller.h", "conversation_list_model.h", "memory_panel.h",
                                   "message_list_model.h", "catalog_model.h", "download_center.h",
                                   "hub_search_model.h", "installed_models.h", "library_actions.h",
                                   "server_switch.h", "remote_models.h", "appearance.h")},
}

# Where a quoted "dir/x.h" or <dir/x.h> may be found, as the targets' include
# directories make it found.
ROOTS = ["engine/src", "engram/src", "ui/src", "app/src", "app", "."]

SOURCE_EXT = (".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh")

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
QT_HEADER = re.compile(r"^Q[A-Za-z0-9_]*(/|$)")  # <QString>, <QtCore/QString>, <QtTest>


def engine_graph(root):
    """EG_ENGINE_LAYERS and the EG_DEPS_<folder> of engine/CMakeLists.txt."""
    text = open(os.path.join(root, "engine/CMakeLists.txt"), encoding="utf-8").read()
    m = re.search(r"set\(EG_ENGINE_LAYERS\s+([^)]*)\)", text)
    if not m:
        sys.exit("check-includes: no set(EG_ENGINE_LAYERS ...) in engine/CMakeLists.txt")
    order = m.group(1).split()
    deps = {layer: [] for layer in order}
    for name, value in re.findall(r"set\(EG_DEPS_(\w+)\b([^)]*)\)", text):
        deps[name] = value.split()
    return order, deps


def closure(deps, layer):
    seen, todo = set(), list(deps.get(layer, []))
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(deps.get(d, []))
    return seen


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    order, deps = engine_graph(root)
    engine = ["engine/" + f for f in order]
    folders = sorted(d for d in os.listdir(os.path.join(root, "engine/src"))
                     if os.path.isdir(os.path.join(root, "engine/src", d)))
    problems = []
    for f in folders:
        if f not in order and f != "cuda":
            problems.append(f"engine/src/{f}: a folder not in EG_ENGINE_LAYERS (engine/CMakeLists.txt): "
                            "give it its place in the order")
    areas = [("engine/" + f, "engine/src/" + f) for f in folders] + AREAS

    # area -> the other areas its files may include; an area not listed is
    # not checked. One line per rule.
    rules = {
        **{"engine/" + f: ["engine/" + d for d in closure(deps, f)] for f in order},
        "engine/cuda": engine,  # the GPU plugin sits on top of the engine
        "engram": engine,
        "store": ["engine/core"],  # SQLite and Qt; the engine's Result and log
        "library": engine + ["store"],  # store/result_qt.h, the Qt layer's error convention
        "ui": engine + ["store", "library"],
        "app": engine + ["engram", "store", "library", "ui"],  # ui through PUBLIC only
    }
    no_qt = set(engine) | {"engine/cuda", "engram"}

    def area_of(path):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        for area, d in areas:
            if rel == d or rel.startswith(d + "/"):
                return area
        return None

    def why_not(area, target):
        a, t = area.split("/")[-1], target.split("/")[-1]
        if area.startswith("engine/") and target.startswith("engine/") and a in order and t in order:
            if order.index(t) >= order.index(a):
                return f"{target} is not below {area} in EG_ENGINE_LAYERS ({' < '.join(order)})"
            return f"{target} is not among the dependencies of eg_{a} (EG_DEPS_{a} in engine/CMakeLists.txt)"
        if target == "engram" and area.startswith("engine"):
            return "engram sits on top of the engine"
        allowed = set(rules[area])
        names = (["the engine"] if set(engine) <= allowed else []) + sorted(allowed - set(engine))
        return f"{area} may include only " + (", ".join(names) + " and itself" if names else "itself")

    checked = 0
    for scanned in SCANNED:
        top = os.path.join(root, scanned)
        if not os.path.isdir(top):
            continue
        for dirpath, _, files in os.walk(top):
            for name in sorted(files):
                if not name.endswith(SOURCE_EXT):
                    continue
                path = os.path.join(dirpath, name)
                area = area_of(path)
                if area not in rules and area not in no_qt:
                    continue
                rel = os.path.relpath(path, root)
                for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    checked += 1
                    kind, inc = m.groups()
                    if kind == "<" and QT_HEADER.match(inc):
                        if area in no_qt:
                            problems.append(f"{rel}:{n}: includes the Qt header <{inc}>: {area} has no Qt")
                        continue
                    if area not in rules:
                        continue
                    found = []
                    if kind == '"':
                        here = os.path.normpath(os.path.join(dirpath, inc))
                        if os.path.isfile(here):
                            found = [here]
                    if not found:
                        found = [p for p in (os.path.normpath(os.path.join(root, r, inc)) for r in ROOTS)
                                 if os.path.isfile(p)]
                    targets = [area_of(p) for p in found]
                    if not targets:
                        continue
                    t = targets[0]
                    if t in PUBLIC and t != area:
                        here_rel = os.path.relpath(found[0], root).replace(os.sep, "/")
                        if t in rules[area] and here_rel not in PUBLIC[t]:
                            problems.append(f"{rel}:{n}: includes {here_rel}, an internal header of {t}: "
                                            f"{area} may include only {', '.join(sorted(PUBLIC[t]))}")
                        if t in rules[area]:
                            continue
                    if any(x == area or x in rules[area] for x in targets):
                        continue
                    problems.append(f"{rel}:{n}: includes {kind}{inc}{'>' if kind == '<' else kind} "
                                    f"({os.path.relpath(found[0], root)}, {t}): {why_not(area, t)}")
    for p in problems:
        print(p)
    if problems:
        print(f"check-includes: {len(problems)} wrong-way include(s)")
        return 1
    print(f"check-includes: {checked} includes checked, none goes the wrong way")
    return 0


if __name__ == "__main__":
    sys.exit(main())
