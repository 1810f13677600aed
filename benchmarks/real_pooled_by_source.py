"""Where the pooled real-recording zero-shot score comes from: per held-out source, and without one.

    python benchmarks/real_pooled_by_source.py runs/mini/pretrain [--leave-out hydrogen-gmrockkit]

For the encoder in a run folder and for random weights (seed 0), ranks every held-out sound against
every held-out label (the pooled set ``all`` of :mod:`w2clib.evaluate.real_heldout`, zero-shot
prompts) and prints the mean reciprocal rank per source, over all sounds, and over all sounds but
those of ``--leave-out``, then the labels the left-out source's sounds rank first.  docs/embedded_data.md
quotes it: the shipped encoder's pooled gain is the drum kit's.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="a finished run folder (w2clib.load_model)")
    parser.add_argument("--leave-out", default="hydrogen-gmrockkit", help="a held-out source to leave out")
    args = parser.parse_args()

    import w2clib
    from w2clib.data import load_manifest, prepare
    from w2clib.evaluate.embedded_heldout import random_like
    from w2clib.evaluate.real_heldout import POOLED, heldout_sources, real_heldout_evaluator, trained_real_sources
    from w2clib.teachers import teacher_from_description

    model = w2clib.load_model(args.run, device="cpu")
    prepare("real_sounds")
    manifest = load_manifest("real_sounds")
    sources = heldout_sources(manifest, trained_real_sources(args.run))
    evaluator = real_heldout_evaluator(teacher_from_description(model.config.teacher), manifest, sources=sources)
    pooled = next(s for s in evaluator.sources if s.name == POOLED)
    items = manifest[manifest["source"].isin(sources)].sort_values("clip_id").reset_index(drop=True).loc[pooled.rows]
    labels = np.array(sorted(items["label"].unique()))  # the pooled gallery's order
    for name, encoder in (("trained", model), ("random weights (seed 0)", random_like(model, 0))):
        sim = evaluator.embed(encoder)[pooled.rows] @ pooled.gallery["zeroshot"].T
        hit = sim[pooled.relevant["zeroshot"]]
        rr = pd.Series(1.0 / ((sim > hit[:, None]).sum(axis=1) + 1), index=items["source"].to_numpy())
        kept = rr[rr.index != args.leave_out]
        print(f"{name}: pooled zero-shot MRR {rr.mean():.3f}, without {args.leave_out} {kept.mean():.3f}")
        print("  per source:", rr.groupby(level=0).mean().round(3).to_dict())
        if name == "trained":
            mine = items["source"].to_numpy() == args.leave_out
            top = pd.Series(labels[sim.argmax(axis=1)][mine]).value_counts().head(4).to_dict()
            print(f"  {args.leave_out}: {mine.sum()} sounds; ranked first: {top}")


if __name__ == "__main__":
    main()
