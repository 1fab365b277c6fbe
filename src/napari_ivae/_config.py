"""Shared dict round trip for the configuration dataclasses saved in checkpoints."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from napari_ivae._errors import IvaeError

_C = TypeVar("_C", bound="DictConfig")


class DictConfig:
    """Mixin for dataclasses: ``to_dict`` / ``from_dict`` with unknown keys refused."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for checkpoints)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[_C], d: dict) -> _C:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`IvaeError`."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - names)
        if unknown:
            label = "".join("_" + c.lower() if c.isupper() else c for c in cls.__name__).lstrip("_")
            raise IvaeError(f"{label} has unknown keys {unknown}")
        return cls(**d)
