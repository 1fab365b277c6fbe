"""Faces of a planar straight-line graph: half-edges, neighbours sorted by angle, face walk.

Every bond gives two half-edges ``u -> v`` and ``v -> u``.  Around each atom the
outgoing half-edges are sorted by angle; the face walk leaves ``v`` along the
half-edge that comes just before ``v -> u`` in that order (the sharpest turn
to the left), so every face is walked once with the face on its left.  Bounded
faces then have a positive signed area and the unbounded (outer) face of each
connected piece a negative one.  Everything is vectorised: the faces are the
cycles of the permutation "next half-edge", found as connected components.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass
class Faces:
    """The faces of a planar embedding.

    Attributes
    ----------
    src, dst : numpy.ndarray
        (2E,) atom indices of every half-edge.
    nxt : numpy.ndarray
        (2E,) the next half-edge along the same face.
    face : numpy.ndarray
        (2E,) face index of every half-edge.
    size : numpy.ndarray
        (F,) number of half-edges (= bonds walked) of every face.
    area : numpy.ndarray
        (F,) signed area; > 0 for bounded faces, ≤ 0 for outer faces.
    """

    src: np.ndarray
    dst: np.ndarray
    nxt: np.ndarray
    face: np.ndarray
    size: np.ndarray
    area: np.ndarray


def planar_faces(yx: np.ndarray, bonds: np.ndarray) -> Faces:
    """Walk the faces of the straight-line embedding of ``bonds`` at positions ``yx``.

    Parameters
    ----------
    yx : numpy.ndarray
        (N, 2) positions (row, column).
    bonds : numpy.ndarray
        (E, 2) int, atom index pairs; the bonds must not cross.

    Returns
    -------
    Faces
        Half-edges, their faces and per-face size and signed area.
    """
    n, e = len(yx), len(bonds)
    if e == 0:
        empty = np.empty(0, np.int64)
        return Faces(empty, empty, empty, empty, empty, np.empty(0))
    src = np.concatenate([bonds[:, 0], bonds[:, 1]]).astype(np.int64)
    dst = np.concatenate([bonds[:, 1], bonds[:, 0]]).astype(np.int64)
    twin = (np.arange(2 * e) + e) % (2 * e)
    d = yx[dst] - yx[src]
    # angle measured from the x axis towards the y axis; the area below uses the same sense
    ang = np.arctan2(d[:, 0], d[:, 1])
    order = np.lexsort((ang, src))
    pos = np.empty(2 * e, np.int64)
    pos[order] = np.arange(2 * e)
    deg = np.bincount(src, minlength=n)
    start = np.concatenate([[0], np.cumsum(deg)[:-1]])
    k = pos[twin] - start[dst]
    nxt = order[start[dst] + (k - 1) % deg[dst]]
    graph = coo_matrix((np.ones(2 * e), (np.arange(2 * e), nxt)), shape=(2 * e, 2 * e))
    n_faces, face = connected_components(graph, directed=True, connection="weak")
    size = np.bincount(face, minlength=n_faces)
    y, x = yx[:, 0], yx[:, 1]
    cross = x[src] * y[dst] - x[dst] * y[src]
    area = 0.5 * np.bincount(face, weights=cross, minlength=n_faces)
    return Faces(src, dst, nxt, face.astype(np.int64), size, area)


def face_cycles(faces: Faces, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Atom indices around the faces ``keep`` (bool per face), in walking order.

    Parameters
    ----------
    faces : Faces
        From :func:`planar_faces`.
    keep : numpy.ndarray
        (F,) bool, the faces to walk (keep them small: the table is
        faces × largest size).

    Returns
    -------
    index : numpy.ndarray
        (K,) the kept faces.
    atoms : numpy.ndarray
        (K, M) atom indices around each face, padded with -1 after its size.
    """
    index = np.flatnonzero(keep)
    if len(index) == 0:
        return index, np.empty((0, 0), np.int64)
    first = np.full(len(faces.size), -1, np.int64)
    first[faces.face[::-1]] = np.arange(len(faces.face))[::-1]
    size = faces.size[index]
    out = np.full((len(index), int(size.max())), -1, np.int64)
    h = first[index]
    for k in range(out.shape[1]):
        live = k < size
        out[live, k] = faces.src[h[live]]
        h = faces.nxt[h]
    return index, out


def simple_rows(cycles: np.ndarray) -> np.ndarray:
    """True for the rows of ``cycles`` (padded with -1) that visit no atom twice."""
    if cycles.size == 0:
        return np.zeros(len(cycles), bool)
    srt = np.sort(cycles, axis=1)
    repeat = (srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] >= 0)
    return ~repeat.any(axis=1)
