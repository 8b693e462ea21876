"""The Qt binding itself must not leak references: PySide6 6.12.0 on Python < 3.12 crashes the app."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal

pytestmark = pytest.mark.gui


class _Emitter(QObject):
    happened = Signal(object)

    def __init__(self):
        super().__init__()
        self.received = 0

    def count(self, _value) -> None:
        self.received += 1


def test_signal_emission_keeps_refcounts_of_singletons(qapp):
    """Every emission in PySide6 6.12.0 drops a reference to True (and calls drop None's) that it
    never took: on Python 3.10/3.11, where these objects are not immortal, the app dies with
    "Fatal Python error: bool_dealloc" after a few hundred signals. 6.11.3 is fine; so is 3.12+."""
    emitter = _Emitter()
    emitter.happened.connect(emitter.count)
    before = sys.getrefcount(True), sys.getrefcount(None)
    for value in range(50):
        emitter.happened.emit(value)
    after = sys.getrefcount(True), sys.getrefcount(None)
    assert emitter.received == 50
    assert after[0] >= before[0], f"True lost {before[0] - after[0]} references in 50 emissions"
    assert after[1] >= before[1] - 5, f"None lost {before[1] - after[1]} references in 50 emissions"
