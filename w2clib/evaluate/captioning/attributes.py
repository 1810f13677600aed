"""What a generated caption gets right, attribute by attribute, on clips whose references are templated.

The n-gram metrics mix everything a caption says into one number.  On the embedded GM renders the
references say four things -- the instrument, the register (low / middle / high), the dynamics
(soft / loud) and the pattern (a single note, a rising phrase, a chord, two instruments together) -- so
each can be checked separately:

* ``instrument``: the caption contains the (first) instrument's name as a whole-word phrase;
* ``register``: it contains the right register word and neither of the other two;
* ``dynamics``: it contains the right dynamics word (``soft``/``softly`` or ``loud``/``loudly``) and not
  the other;
* ``pattern``: it names the right pattern and no other (``rising``/``phrase``, ``chord``,
  ``together``/``duet``; a single note is right when the caption names none of them -- every reference
  template of a pattern says its word, see :mod:`.dataset`).

A probe is fitted only for an attribute with at least two values on the training clips.

A caption that leaves an attribute out counts as wrong for it.  :func:`attribute_probes` asks the
question one step earlier: is the attribute in the embedding at all?  A linear probe (the project's,
:func:`w2clib.evaluate.probes.select_and_fit`) is trained on the training clips' embeddings to predict
each attribute and scored on the test clips; a captioner rarely names what its input does not carry.

  Chance for ``register`` is about 1/3 and
for ``dynamics`` about 1/2 (the classes are not exactly balanced: :func:`attribute_accuracy` reports the
majority-class rate beside each accuracy).  No library scores this, so it is ours; it uses the same
tokeniser as the metrics.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ...processes import WorkerPool
from .dataset import ATTRIBUTES
from .vocab import tokenize

__all__ = ["caption_has", "attribute_accuracy", "attribute_probes", "submit_attribute_probes", "attribute_table"]

COLUMNS = ["system", "seed", "split", "attribute", "accuracy", "majority", "n_clips"]

_WORDS = {
    "register": {"low": {"low"}, "middle": {"middle"}, "high": {"high"}},
    "dynamics": {"soft": {"soft", "softly"}, "loud": {"loud", "loudly"}},
    "pattern": {"single": set(), "phrase": {"rising", "phrase"}, "chord": {"chord"}, "duet": {"together", "duet"}},
}


def _contains(words: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return n > 0 and any(words[i:i + n] == phrase for i in range(len(words) - n + 1))


def caption_has(caption: str, attribute: str, value: str) -> bool:
    """Whether ``caption`` states ``value`` for ``attribute`` (rules in the module docstring)."""
    if attribute not in ATTRIBUTES:
        raise ValueError(f"attribute must be one of {ATTRIBUTES}, got {attribute!r}")
    words = tokenize(caption)
    if attribute == "instrument":
        return _contains(words, tokenize(value))
    options = _WORDS[attribute]
    if value not in options:
        raise ValueError(f"{attribute} value must be one of {sorted(options)}, got {value!r}")
    said = {name for name, forms in options.items() if forms & set(words)}
    return said == ({value} if options[value] else set())  # a value without words: none of the others said


def _with_attributes(clips: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the clips whose references describe attributes (all False without the columns)."""
    if "instrument" not in clips:
        return np.zeros(len(clips), dtype=bool)
    return (clips["instrument"].fillna("") != "").to_numpy()


def _majority(values: pd.Series | np.ndarray) -> float:
    """Share of the most frequent value: what always answering it scores."""
    return float(pd.Series(values).value_counts(normalize=True).iloc[0])


def attribute_accuracy(captions: pd.DataFrame, clips: pd.DataFrame) -> pd.DataFrame:
    """Per (system, seed, split, attribute): the share of captions that state the clip's attribute.

    Args:
        captions: ``system, seed, split, clip_id, caption`` (as :func:`.run.captioning_table` makes them).
        clips: the caption set's clips; only clips with a non-empty ``instrument`` are scored.

    Returns:
        ``system, seed, split, attribute, accuracy, majority, n_clips`` (``majority``: the share of the most
        frequent value among the scored clips, what always saying it would score); empty when no clip
        carries attributes (Clotho).
    """
    known = clips[_with_attributes(clips)].set_index("clip_id")
    scored = captions[captions["clip_id"].isin(known.index)]
    records = []
    for (system, seed, split), part in scored.groupby(["system", "seed", "split"], sort=False):
        truth = known.loc[part["clip_id"]]
        for attribute in [a for a in ATTRIBUTES if a in known]:
            hits = [caption_has(c, attribute, v) for c, v in zip(part["caption"], truth[attribute])]
            records.append({"system": system, "seed": int(seed), "split": split, "attribute": attribute,
                            "accuracy": sum(hits) / len(hits),
                            "majority": _majority(truth[attribute]),
                            "n_clips": len(hits)})
    return pd.DataFrame(records, columns=COLUMNS)


def attribute_probes(features: dict[str, np.ndarray], clips: pd.DataFrame, *, seed: int = 0,
                     pool: WorkerPool | None = None) -> pd.DataFrame:
    """Per model and attribute: test accuracy of a linear probe trained on the train + valid clips.

    Args:
        features: model name -> (n_clips, D) features row-aligned with ``clips``.
        clips: the caption set's clips (``split`` and the attribute columns); clips without attributes
            are left out.
        pool: fit the probes in its worker processes (the same probes: each is seeded).

    Returns:
        ``system`` (``probe:<model>``), ``seed, split`` (``test``), ``attribute, accuracy, majority,
        n_clips`` -- the columns of :func:`attribute_accuracy`; empty when no clip carries attributes.
    """
    return submit_attribute_probes(features, clips, seed=seed, pool=pool)()


def submit_attribute_probes(features: dict[str, np.ndarray], clips: pd.DataFrame, *, seed: int = 0,
                            pool: WorkerPool | None = None) -> Callable[[], pd.DataFrame]:
    """:func:`attribute_probes` in two steps: hand the fits to ``pool`` now, and return the function that
    waits for them and builds the table -- so the caller can do other work while the workers fit."""
    pool = pool or WorkerPool(1)
    known = _with_attributes(clips)
    fit = known & clips["split"].isin(["train", "valid"]).to_numpy()
    test = known & (clips["split"] == "test").to_numpy()
    if not fit.any() or not test.any():
        return lambda: pd.DataFrame(columns=COLUMNS)
    pending = []
    for attribute in [a for a in ATTRIBUTES if a in clips]:
        values = clips[attribute].astype(str).to_numpy()
        classes = sorted(set(values[fit]))
        if len(classes) < 2:  # nothing to learn (the pattern of a set without scenes)
            continue
        index = {v: i for i, v in enumerate(classes)}
        y_fit = np.array([index[v] for v in values[fit]], dtype=np.int64)
        for model, x in features.items():
            job = pool.submit(_probe_predictions, np.asarray(x)[fit], y_fit, np.asarray(x)[test], seed, len(classes))
            pending.append((attribute, model, classes, values[test], job))

    def table() -> pd.DataFrame:
        records = []
        for attribute, model, classes, y_test, job in pending:
            predicted = np.array(classes, dtype=object)[job.result()]
            records.append({"system": f"probe:{model}", "seed": seed, "split": "test", "attribute": attribute,
                            "accuracy": float(np.mean(predicted == y_test)),
                            "majority": _majority(y_test),
                            "n_clips": len(y_test)})
        return pd.DataFrame(records, columns=COLUMNS)

    return table


def _probe_predictions(x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray, seed: int, n_classes: int
                       ) -> np.ndarray:
    """Class indices a linear probe fitted on ``(x_fit, y_fit)`` predicts for ``x_test``."""
    from ..probes import select_and_fit

    return np.asarray(select_and_fit(x_fit, y_fit, "linear", seed=seed, n_classes=n_classes).predict(x_test))


def attribute_table(captions: pd.DataFrame, clips: pd.DataFrame, features: dict[str, np.ndarray] | None = None,
                    *, pool: WorkerPool | None = None, probes: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`attribute_accuracy` of the captions followed by :func:`attribute_probes` of the features
    (or ``probes``, a table it already returned)."""
    if probes is None:
        probes = attribute_probes(features or {}, clips, pool=pool)
    parts = [t for t in (attribute_accuracy(captions, clips), probes) if len(t)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
