"""Semi-supervised kinds (ssvae, ssrvae): partial labels, fit with a few labelled
rows, the class in the user's vocabulary, checkpoints, against the cards' truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_ivae._errors import IvaeError
from napari_ivae.models import ModelConfig
from napari_ivae.models.ss_config import SSConfig
from napari_ivae.train.conditions import prepare_conditions, read_label_table

NAMES = np.array(["spade", "heart", "club", "diamond"], dtype=object)


def test_partial_labels_are_unlabelled_rows():
    df = pd.DataFrame({"label": ["b", "", None, "a", " "]})
    t = read_label_table(df, 5, partial=True)
    assert t.classes == ("a", "b") and t.codes.tolist() == [1, -1, -1, 0, -1]
    # an index column may name a few stack rows only: the others are unlabelled
    t = read_label_table(pd.DataFrame({"index": [12, 10], "label": [7, 3]}), 4,
                         index=[10, 11, 12, 13], partial=True)  # fmt: skip
    assert t.classes == ("3", "7") and t.codes.tolist() == [0, -1, 1, -1]


def test_prepare_gives_codes_and_vocabulary():
    mc, codes = prepare_conditions(ModelConfig(kind="ssrvae"), 4, labels=["x", None, "y", "x"])
    assert isinstance(mc, SSConfig) and mc.classes == ("x", "y") and mc.n_classes == 2
    assert codes[:, 0].tolist() == [0, -1, 1, 0]
    assert SSConfig.from_dict(mc.to_dict()) == mc  # what the checkpoint stores


BAD = [
    ({"labels": ["a", None, "a"]}, "one class only ('a')"),
    ({"labels": [None, None, None]}, "labels no row"),
    ({}, "needs labels"),
    ({"labels": ["a", "b"]}, "labels has 2 values for 3 images"),
    ({"labels": ["a", "b", None], "conditions": [[1.0], [2.0], [3.0]]}, "labels only"),
]


@pytest.mark.parametrize(("kw", "message"), BAD)
def test_bad_labels_are_one_sentence(kw, message):
    with pytest.raises(IvaeError) as err:
        prepare_conditions(ModelConfig(kind="ssvae"), 3, **kw)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_config_checks():
    with pytest.raises(IvaeError, match="n_classes=3 but the labels name 2 classes"):
        SSConfig(kind="ssrvae", classes=("a", "b"), n_classes=3)
    with pytest.raises(IvaeError, match="exact enumeration"):
        SSConfig(kind="ssrvae", classes=("a", "b"), discrete="gumbel")
    with pytest.raises(IvaeError, match="supervision"):
        SSConfig(kind="ssrvae", classes=("a", "b"), supervision=-1.0)
    from napari_ivae.models import build_model

    with pytest.raises(IvaeError, match="needs its classes"):
        build_model(SSConfig(kind="ssrvae", in_channels=1, size=16))


@pytest.fixture(scope="module")
def cards():
    from napari_ivae.simulate.cards import make_cards

    return make_cards(60, size=32, seed=22, shear=0.0)


@pytest.fixture(scope="module")
def trained(cards, tmp_path_factory):
    """ssrvae on the 4 cards with 15 % of the rows labelled."""
    from napari_ivae.train import TrainConfig, fit, run_fit

    rng = np.random.default_rng(0)
    known = rng.random(len(cards.labels)) < 0.15
    labels = np.where(known, NAMES[cards.labels], None)
    tc = TrainConfig(epochs=15, batch_size=64, seed=1, device="cpu", num_threads=1,
                     checkpoint=str(tmp_path_factory.mktemp("s") / "m.ivae"))  # fmt: skip
    gen = fit(cards.images, SSConfig(kind="ssrvae", latent_dim=2, hidden=64), tc, labels=labels)
    return run_fit(gen), known, tc.checkpoint


def test_unlabelled_rows_get_their_true_class(trained, cards):
    from napari_ivae.analysis import encode

    result, known, _ = trained
    assert result.stopped is None and "class_ce" in result.history[-1]
    df = encode(result.model, cards.images)
    # the class is reported in the user's names, with one probability per name
    assert set(df["class"]) <= set(NAMES)
    p = df[[f"p_{n}" for n in sorted(NAMES)]].to_numpy()
    assert np.allclose(p.sum(1), 1.0, atol=1e-5)
    truth = NAMES[cards.labels]
    accuracy = (df["class"].to_numpy()[~known] == truth[~known]).mean()
    assert accuracy >= 0.9, accuracy


def test_checkpoint_keeps_the_vocabulary_and_decodes_by_name(trained, cards):
    from napari_ivae.analysis import decode, encode
    from napari_ivae.train import load_model

    result, _, path = trained
    loaded, _ = load_model(path)
    assert loaded.config == result.model.config
    assert loaded.config.classes == ("club", "diamond", "heart", "spade")
    a, b = encode(loaded, cards.images), encode(result.model, cards.images)
    assert (a["class"] == b["class"]).all()
    heart, club = decode(loaded, np.zeros(2), cls="heart"), decode(loaded, np.zeros(2), cls="club")
    assert np.abs(heart - club).max() > 0.1
    assert np.array_equal(decode(loaded, np.zeros(2), cls=2), heart)  # position 2 is "heart"
    with pytest.raises(IvaeError, match="not a class of this model"):
        decode(loaded, np.zeros(2), cls="joker")
