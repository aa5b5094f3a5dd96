"""Comparing accuracy answers: the same structure, numbers equal up to summation order."""

from __future__ import annotations

import math
from typing import Any


def assert_same_answer(got: Any, want: Any, *, rel: float = 1e-9, where: str = "") -> None:
    """``got`` equals ``want``, floats within ``rel`` (sums in another order round apart)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), f"{where}: {got} != {want}"
        for key in want:
            assert_same_answer(got[key], want[key], rel=rel, where=f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {got} != {want}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same_answer(g, w, rel=rel, where=f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert isinstance(got, int | float), f"{where}: {got!r} != {want!r}"
        assert math.isclose(got, want, rel_tol=rel, abs_tol=rel), f"{where}: {got!r} != {want!r}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"
