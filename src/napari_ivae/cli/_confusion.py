"""``ivae confusion FEATURES.csv --truth COL [--predicted class] [--labels LABELS.csv] [-o cm.png]``.

Counts the predicted class of every row against its truth label
(:func:`napari_ivae.confusion.confusion_matrix`): rows with an empty truth
(unlabelled) or no prediction are left out.  Prints the accuracy (or, when the
classes are cluster numbers, the accuracy after matching clusters to labels)
and the matrix; ``-o`` writes it as a PNG, atomically.  ``--labels`` reads the
truth column from another CSV with one row per row of FEATURES.csv, in order
(e.g. the LABELS.csv of ``ivae train``).
"""

from __future__ import annotations

from pathlib import Path

import click

from napari_ivae._errors import IvaeError

__all__ = ["confusion"]


def _read_table(path: str, option: str):
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise IvaeError(f"{option} {path}: file not found")
    try:
        # empty = unlabelled; "NA" or "None" stay label names
        return pd.read_csv(p, keep_default_na=False, na_values=[""])
    except Exception as err:
        raise IvaeError(f"{option} {path}: cannot read as a CSV table ({err})") from None


def _column(table, col: str, option: str, path: str):
    if col not in table.columns:
        found = ", ".join(map(str, table.columns)) or "none"
        raise IvaeError(f"{option} {col!r} is not a column of {path} (found: {found})")
    return table[col]


@click.command("confusion")
@click.argument("features", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--truth", required=True, help="Column holding the truth labels (empty = unlabelled)."
)
@click.option(
    "--predicted", default="class", show_default=True, help="Column holding the predicted class."
)
@click.option("--labels", "labels_path", default=None, type=click.Path(dir_okay=False),
              help="Read --truth from this CSV instead (one row per row of FEATURES, in order).")  # fmt: skip
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False), help="Output PNG.")
def confusion(features: str, truth: str, predicted: str, labels_path: str | None,
              output: str | None) -> None:  # fmt: skip
    """Confusion matrix of the predicted class against truth labels in FEATURES (a CSV)."""
    from napari_ivae.cli._write import _check_distinct, _check_output, write_errors
    from napari_ivae.confusion import confusion_matrix, plot_confusion

    _check_output(output, "-o", (".png",))
    _check_distinct(FEATURES=features, **{"-o": output})
    table = _read_table(features, "FEATURES")
    pred = _column(table, predicted, "--predicted", features)
    if labels_path is None:
        true = _column(table, truth, "--truth", features)
    else:
        truth_table = _read_table(labels_path, "--labels")
        if len(truth_table) != len(table):
            raise IvaeError(f"--labels {labels_path} has {len(truth_table)} rows but {features} "
                            f"has {len(table)}; give one label per row, in order")  # fmt: skip
        true = _column(truth_table, truth, "--truth", labels_path)
    cm = confusion_matrix(true, pred)
    if cm.shared:
        score = f"accuracy {cm.accuracy:.4f}"
    else:
        score = f"matched accuracy {cm.matched_accuracy:.4f} (classes are cluster numbers)"
    click.echo(f"{score}; {cm.n} rows counted, {cm.n_skipped} without truth or prediction")
    click.echo(cm.counts.to_string())
    if output is not None:
        with write_errors(output):
            plot_confusion(cm, output, truth_name=truth, predicted_name=predicted)
        click.echo(f"ivae confusion: wrote {output}", err=True)
