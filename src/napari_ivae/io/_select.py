"""Pick channels of a file by name (shared by ``ivae crop`` and :func:`~napari_ivae.io.read_series`)."""

from __future__ import annotations

from napari_ivae._errors import IvaeError


def _key(name: str) -> str:
    return "".join(name.lower().split())


def select_channels(
    layers: list, queries: tuple[str, ...], source: str, option: str = "channels"
) -> tuple[list, list[str]]:
    """Pick layers by name: case-insensitive substring match, spaces ignored.

    An exact name match wins, then names starting with the query, then any
    name containing it; among several equal candidates the first in the file is
    taken and a note says which others matched.

    Parameters
    ----------
    layers : list of ImageLayer
        Channels of one file.
    queries : tuple of str
        Channel names (or parts of names) wanted.
    source : str
        The file, for messages.
    option : str
        How the caller names the choice in messages (``"--channels"`` in the CLI).

    Returns
    -------
    layers : list
        The chosen layers, in query order.
    notes : list of str
        Ambiguity notes to show the user.
    """
    chosen, notes = [], []
    for query in queries:
        q = _key(query)
        if not q:
            continue
        names = [_key(layer.name) for layer in layers]
        ranked = (
            [i for i, n in enumerate(names) if n == q],
            [i for i, n in enumerate(names) if n.startswith(q)],
            [i for i, n in enumerate(names) if q in n],
        )
        hits = next((h for h in ranked if h), [])
        if not hits:
            available = ", ".join(repr(layer.name) for layer in layers)
            raise IvaeError(
                f"{option} {query!r} matches no channel of {source} (channels: {available})"
            )
        if len(hits) > 1:
            others = ", ".join(repr(layers[i].name) for i in hits[1:])
            notes.append(
                f"{option} {query!r} -> {layers[hits[0]].name!r} (also matching: {others})"
            )
        chosen.append(layers[hits[0]])
    if not chosen:
        raise IvaeError(f"{option}: no channel name given")
    return chosen, notes
