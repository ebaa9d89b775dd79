// Finding and clicking QML items by objectName in a real window, for the
// app tests that drive pages as a user would.
#pragma once

#include <QQuickItem>
#include <QQuickWindow>
#include <QtTest>

// The first item named `name` under root (root included), depth first.
inline QQuickItem* find_item(QQuickItem* root, const QString& name) {
    if (!root) return nullptr;
    if (root->objectName() == name) return root;
    for (QQuickItem* child : root->childItems())
        if (QQuickItem* found = find_item(child, name)) return found;
    return nullptr;
}

// A left click at the item's centre.
inline void click(QQuickWindow& window, QQuickItem* item) {
    const QPointF centre = item->mapToScene(QPointF(item->width() / 2, item->height() / 2));
    QTest::mouseClick(&window, Qt::LeftButton, Qt::NoModifier, centre.toPoint());
}

// Puts `item` (a created QML component) into `window` at `size`, filling it,
// and shows the window; true once it is exposed.
inline bool show_in_window(QQuickWindow& window, QQuickItem* item, QSize size) {
    window.resize(size);
    item->setParentItem(window.contentItem());
    item->setSize(QSizeF(size));
    window.show();
    return QTest::qWaitForWindowExposed(&window);
}
