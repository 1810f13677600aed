"""Captioning: metric wrapper on hand-computed cases, vocabulary, caption sets, decoder, baselines."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("pycocoevalcap")

from w2clib.evaluate.captioning import metrics as M  # noqa: E402
from w2clib.evaluate.captioning.attributes import attribute_accuracy, attribute_table, caption_has  # noqa: E402
from w2clib.evaluate.captioning.baselines import (  # noqa: E402
    best_constant_caption,
    distinct_captions,
    retrieval_captions,
)
from w2clib.evaluate.captioning.dataset import (  # noqa: E402
    PATTERNS,
    embedded_caption_set,
    gm_attributes,
    gm_instrument,
    gm_references,
    read_caption_table,
    register,
)
from w2clib.evaluate.captioning.decoder import DecoderConfig, load_captioner, train_captioner  # noqa: E402
from w2clib.evaluate.captioning.vocab import UNK, Vocabulary, tokenize  # noqa: E402

PY_METRICS = ("BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4", "ROUGE_L", "CIDEr-D")


# ------------------------------------------------------------------------------------------------ metrics


def test_identical_candidate_and_references_score_one_on_bleu_and_rouge():
    refs = {"a": ["A dog barks twice in the yard."], "b": ["Rain falls on a tin roof."]}
    cands = {"a": "a dog barks twice in the yard", "b": "rain falls on a tin roof"}
    out = M.caption_metrics(cands, refs, PY_METRICS)
    for n in range(1, 5):
        assert out.corpus[f"BLEU_{n}"] == pytest.approx(1.0, abs=1e-6)
    assert out.corpus["ROUGE_L"] == pytest.approx(1.0)
    # CIDEr-D: cosine 1 for every n, no length penalty, x10 (the clips share no words, so no idf is 0)
    assert out.corpus["CIDEr-D"] == pytest.approx(10.0, abs=1e-6)


def test_bleu_matches_a_hand_computed_case():
    # candidate "a b c d" vs reference "a b c e": unigram precision 3/4, bigram 2/3, no brevity penalty
    out = M.caption_metrics({"x": "a b c d"}, {"x": ["a b c e"]}, ["BLEU_1", "BLEU_2"])
    assert out.corpus["BLEU_1"] == pytest.approx(0.75, abs=1e-6)
    assert out.corpus["BLEU_2"] == pytest.approx((0.75 * 2 / 3) ** 0.5, abs=1e-6)


def test_empty_candidate_scores_zero_and_clip_without_reference_is_refused():
    out = M.caption_metrics({"a": "", "b": "rain on a roof"}, {"a": ["a dog"], "b": ["rain on a roof"]},
                            ["CIDEr-D", "BLEU_1"])
    assert out.per_clip["CIDEr-D"][0] == 0.0 and out.per_clip["CIDEr-D"][1] > 0
    with pytest.raises(ValueError, match="no non-empty reference"):
        M.caption_metrics({"a": "dog"}, {"a": ["", "  "]}, ["BLEU_1"])
    with pytest.raises(ValueError, match="have no references"):
        M.caption_metrics({"a": "dog", "z": "cat"}, {"a": ["dog"]}, ["BLEU_1"])
    with pytest.raises(ValueError, match="unknown caption metrics"):
        M.caption_metrics({"a": "dog"}, {"a": ["dog"]}, ["BLEU_5"])


def test_spice_and_spider_are_skipped_with_a_reason_without_java(monkeypatch):
    monkeypatch.setattr(M, "java_runtime", lambda: None)
    out = M.caption_metrics({"a": "dog"}, {"a": ["dog"]}, ["CIDEr-D", "METEOR", "SPICE", "SPIDEr"])
    assert set(out.skipped) == {"METEOR", "SPICE", "SPIDEr"}
    assert "Java" in out.skipped["SPICE"] and "SPICE" in out.skipped["SPIDEr"]
    assert "SPIDEr" not in out.corpus


@pytest.mark.skipif(M.java_runtime() is None, reason="METEOR needs a Java runtime")
def test_meteor_of_identical_captions_is_one_through_java():
    out = M.score_runs({"same": {"a": "a dog barks"}, "other": {"a": "music plays"}},
                       {"a": ["a dog barks"]}, ["METEOR"])
    assert out["same"].corpus["METEOR"] == pytest.approx(1.0, abs=1e-6)
    assert out["other"].corpus["METEOR"] < 0.2


# ------------------------------------------------------------------------------------------------ vocabulary


def test_vocabulary_maps_unknown_words_to_unk_and_decodes_up_to_eos():
    vocab = Vocabulary.build(["A dog barks.", "a cat meows"])
    ids = vocab.encode("a zebra barks")
    assert ids[2] == UNK and vocab.decode(ids[1:]) == "a barks"
    assert vocab.unknown_share(["a zebra"]) == 0.5
    assert tokenize("Café, it's LOUD!") == ["café", "it's", "loud"]
    with pytest.raises(ValueError, match="no word"):
        Vocabulary.build(["", "  ", "!!"])


# ------------------------------------------------------------------------------------------------ caption sets


def test_gm_references_describe_register_dynamics_and_instrument():
    assert [register(k) for k in (36, 51, 52, 67, 68, 84)] == ["low", "low", "middle", "middle", "high", "high"]
    refs = gm_references(42, 40, 40, 4)  # cello, low key, velocity 40
    assert len(refs) == len(set(refs)) == 4
    assert all("cello" in r and "low" in r for r in refs) and any("soft" in r for r in refs)
    assert "snare drum" in gm_references(128, 38, 127, 3)[0] and "loud" in gm_references(128, 38, 127, 3)[0]
    assert gm_instrument(24) == "nylon acoustic guitar" and gm_instrument(80) == "square lead synth"
    with pytest.raises(ValueError, match="1-5"):
        gm_references(0, 60, 100, 6)


def _gm(n: int, split: str, font: str) -> pd.DataFrame:
    return pd.DataFrame({"clip_id": [f"{font}/p{i:03d}" for i in range(n)], "audio_path": "x.flac", "split": split,
                         "program": [i % 8 for i in range(n)], "pitch": 60, "velocity": 100})


def test_embedded_caption_set_splits_and_drops_clips_without_captions():
    gm = pd.concat([_gm(60, "train", "fluidr3"), _gm(20, "test", "timgm6mb")], ignore_index=True)
    tux = pd.DataFrame({"clip_id": ["tux/cow", "tux/blank", "tux/owl"], "audio_path": "y.ogg",
                        "split": ["train", "train", "test"], "caption": ["A cow.", "   ", "An owl."]})
    cset = embedded_caption_set(gm, tux, references_per_clip=3, valid_fraction=0.2)
    assert cset.dropped["clip_without_caption"] == 1 and "tux/blank" not in set(cset.clips["clip_id"])
    counts = cset.clips["split"].value_counts()
    assert counts["test"] == 21 and 0 < counts["valid"] < 30 and counts["train"] + counts["valid"] == 61
    assert (cset.clips.loc[cset.clips["source"] == "gm", "references"].map(len) == 3).all()
    assert set(cset.clips.loc[cset.clips["split"] == "valid", "clip_id"]).isdisjoint(
        cset.clips.loc[cset.clips["split"] == "test", "clip_id"])


def test_attributes_say_which_part_of_a_caption_is_right():
    assert gm_attributes(42, 40, 40) == {"instrument": "cello", "register": "low", "dynamics": "soft",
                                         "pattern": "single"}
    assert caption_has("A cello plays a single low note softly", "instrument", "cello")
    assert not caption_has("a cellophane crackles", "instrument", "cello")  # whole words only
    assert caption_has("one high nylon acoustic guitar note", "instrument", "nylon acoustic guitar")
    assert not caption_has("an acoustic nylon guitar", "instrument", "nylon acoustic guitar")
    assert caption_has("a soft low note", "register", "low") and not caption_has("a soft note", "register", "low")
    assert not caption_has("a low or high note", "register", "low")  # hedging is not an answer
    assert caption_has("played loudly", "dynamics", "loud") and not caption_has("soft and loud", "dynamics", "loud")
    with pytest.raises(ValueError, match="register value"):
        caption_has("a note", "register", "bass")
    with pytest.raises(ValueError, match="attribute must be"):
        caption_has("a note", "pitch", "low")
    gm = pd.concat([_gm(4, "train", "fluidr3"), _gm(4, "test", "timgm6mb")], ignore_index=True)
    tux = pd.DataFrame({"clip_id": ["tux/owl"], "audio_path": "y.ogg", "split": ["test"], "caption": ["An owl."]})
    cset = embedded_caption_set(gm, tux, references_per_clip=2, valid_fraction=0.0)
    assert cset.clips.loc[cset.clips["source"] == "tuxpaint", "instrument"].tolist() == [""]
    test = cset.clips[cset.clips["split"] == "test"]
    first = [refs[0] for refs in test["references"]]  # each clip's own first reference: everything right
    captions = pd.DataFrame({"system": "s", "seed": 0, "split": "test", "clip_id": test["clip_id"],
                             "caption": first[:-2] + ["a loud middle note", "an owl"]})
    acc = attribute_accuracy(captions, cset.clips).set_index("attribute")
    assert acc["n_clips"].tolist() == [4, 4, 4, 4]  # the Tux Paint clip has no attributes to check
    assert acc.loc["instrument", "accuracy"] == 0.75 and acc.loc["register", "accuracy"] == 1.0
    assert acc.loc["dynamics", "accuracy"] == 1.0 and acc.loc["register", "majority"] == 1.0
    assert attribute_accuracy(captions, cset.clips.drop(columns="instrument")).empty


def test_every_template_of_a_pattern_says_its_pattern_and_no_other():
    for program in range(112):  # every pitched GM program can play a phrase, a chord or a duet
        for pattern in PATTERNS:
            second = 40 if pattern == "duet" else -1
            refs = gm_references(program, 60, 100, 5, pattern=pattern, program2=second)
            assert len(set(refs)) == 5, (program, pattern)
            assert all(caption_has(r, "pattern", pattern) for r in refs), (program, pattern, refs)
            assert all(caption_has(r, "instrument", gm_instrument(program)) for r in refs)
            if pattern == "duet":
                assert all(caption_has(r, "instrument", gm_instrument(40)) for r in refs)
    for program in (128, 122):  # the drum kit and a sound effect play single notes only
        assert all(caption_has(r, "pattern", "single") for r in gm_references(program, 38, 100, 5))
    assert not caption_has("a cello plays a rising chord", "pattern", "chord")  # two patterns: no answer
    assert not caption_has("a cello note", "pattern", "phrase") and caption_has("a cello note", "pattern", "single")
    with pytest.raises(ValueError, match="only of a duet"):
        gm_references(0, 60, 100, 3, pattern="duet")
    with pytest.raises(ValueError, match="only of a duet"):
        gm_references(0, 60, 100, 3, pattern="chord", program2=40)
    with pytest.raises(ValueError, match="pitched GM programs"):
        gm_attributes(128, 38, 100, "phrase")
    with pytest.raises(ValueError, match="pattern must be"):
        gm_attributes(0, 60, 100, "arpeggio")


def test_scenes_join_the_caption_set_as_their_own_source_with_their_pattern():
    gm = pd.concat([_gm(8, "train", "fluidr3"), _gm(4, "test", "timgm6mb")], ignore_index=True)
    scenes = pd.DataFrame({"clip_id": ["s/a", "s/b", "s/c"], "audio_path": "z.flac", "split": ["train", "test", "test"],
                           "program": [0, 40, 24], "pitch": [48, 60, 72], "velocity": [40, 100, 127],
                           "pattern": ["phrase", "chord", "duet"], "program2": [-1, -1, 73]})
    tux = pd.DataFrame(columns=["clip_id", "audio_path", "split", "caption"])
    cset = embedded_caption_set(gm, tux, scenes=scenes, references_per_clip=3, valid_fraction=0.0)
    part = cset.clips[cset.clips["source"] == "gm_scenes"].set_index("clip_id")
    assert part["pattern"].tolist() == ["phrase", "chord", "duet"]
    assert part.loc["s/a", "register"] == "low" and part.loc["s/a", "dynamics"] == "soft"
    assert all("flute" in r and "nylon acoustic guitar" in r for r in part.loc["s/c", "references"])
    assert set(cset.clips.loc[cset.clips["source"] == "gm", "pattern"]) == {"single"}
    with pytest.raises(ValueError, match="no 'pattern' column"):
        embedded_caption_set(gm, tux, scenes=scenes.drop(columns="pattern"))


def test_attribute_probes_find_what_the_features_carry():
    gm = pd.concat([_gm(48, "train", "fluidr3"), _gm(24, "test", "timgm6mb")], ignore_index=True)
    gm["pitch"] = np.resize([40, 60, 80], len(gm))  # low, middle, high in turn
    cset = embedded_caption_set(gm, pd.DataFrame(columns=["clip_id", "audio_path", "split", "caption"]),
                                references_per_clip=1, valid_fraction=0.0)
    clips = cset.clips
    rng = np.random.default_rng(0)
    onehot = pd.get_dummies(clips["register"]).to_numpy(float)
    features = {"knows_register": np.hstack([3 * onehot, rng.normal(size=(len(clips), 5))]),
                "noise": rng.normal(size=(len(clips), 8))}
    none = pd.DataFrame(columns=["system", "seed", "split", "clip_id", "caption"])
    table = attribute_table(none, clips, features).set_index(["system", "attribute"])
    assert table.loc[("probe:knows_register", "register"), "accuracy"] == 1.0
    assert table.loc[("probe:noise", "register"), "accuracy"] < 0.7
    assert table.loc[("probe:noise", "register"), "majority"] == pytest.approx(1 / 3)
    assert set(table["n_clips"]) == {24} and set(table["split"]) == {"test"}
    assert "pattern" not in set(table.index.get_level_values("attribute"))  # one value: no probe to fit


def test_caption_table_in_iso_8859_1_is_read_and_empty_captions_dropped(tmp_path):
    path = tmp_path / "captions.csv"
    text = "file_name,caption_1,caption_2\na.wav,Un café bruyant,\nb.wav,,\n"
    path.write_bytes(text.encode("iso-8859-1"))
    with pytest.raises(UnicodeDecodeError):
        path.read_text(encoding="utf-8")
    df = read_caption_table(path)
    assert df["clip_id"].tolist() == ["a"] and df["references"][0] == ["Un café bruyant"]
    assert df.attrs["dropped"] == {"empty_caption": 3, "clip_without_caption": 1}
    (tmp_path / "bad.csv").write_text("name,text\nx,y\n")
    with pytest.raises(ValueError, match="file_name"):
        read_caption_table(tmp_path / "bad.csv")


# ------------------------------------------------------------------------------------------------ decoder


WORDS = ["dog barks", "cat meows", "bird sings", "car passes"]


def _toy(n: int = 160, seed: int = 0) -> tuple[np.ndarray, list[list[str]]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype(np.float32)
    cls = np.arange(n) % 4
    x[np.arange(n), cls] += 4.0
    return x, [[f"a {WORDS[c]}", f"the {WORDS[c]} loudly", ""] for c in cls]


def test_prefix_captioner_learns_a_toy_task_and_round_trips_through_its_folder(tmp_path):
    from w2clib.evaluate.probes import torch_threads

    with torch_threads(1):  # restored afterwards: later tests compare runs across processes bitwise
        _learn_and_round_trip(tmp_path)


def _learn_and_round_trip(tmp_path):
    x, caps = _toy()
    cfg = DecoderConfig(prefix_length=2, d_model=32, n_layers=1, n_heads=2, dim_feedforward=64, epochs=25,
                        batch_size=32, lr=3e-3, beam_size=3)
    model = train_captioner(x, caps, cfg, seed=0, valid=(x[:20], caps[:20]), embedder={"name": "toy"})
    assert model.history[-1]["train_loss"] < model.history[0]["train_loss"]
    for beam in (1, 3):
        out = model.generate(x[:8], beam_size=beam)
        assert all(WORDS[i % 4] in caption for i, caption in enumerate(out)), out
    model.save(tmp_path / "cap")
    again = load_captioner(tmp_path / "cap")
    assert again.generate(x[:8]) == model.generate(x[:8]) and again.embedder == {"name": "toy"}
    with pytest.raises(ValueError, match=r"\(n, 16\)"):
        again.generate(x[:, :8])
    (tmp_path / "cap" / "captioner.safetensors").write_bytes(b"tampered")
    with pytest.raises(ValueError, match="SHA-256"):
        load_captioner(tmp_path / "cap")
    meta = json.loads((tmp_path / "cap" / "config.json").read_text())
    assert meta["vocabulary"][:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]


def test_references_per_epoch_trains_on_a_fresh_draw_of_each_clips_references():
    from w2clib.evaluate.captioning.decoder import _reference_sampler

    rows = [0, 0, 0, 1, 1, 2]  # clip of each (clip, reference) pair
    draw, n = _reference_sampler(rows, 2, torch.Generator().manual_seed(0))
    picks = [draw().tolist() for _ in range(20)]
    assert n == 5 and all(len(p) == 5 for p in picks)
    assert all(sorted(rows[i] for i in p) == [0, 0, 1, 1, 2] for p in picks)
    assert len({tuple(sorted(p)) for p in picks}) == 3  # clip 0's third reference takes its turn
    everything, n_all = _reference_sampler(rows, 0, torch.Generator())
    assert n_all == 6 and everything().tolist() == list(range(6))
    x, caps = _toy(80)
    cfg = DecoderConfig(prefix_length=1, d_model=16, n_layers=1, n_heads=2, dim_feedforward=32, epochs=2,
                        batch_size=16, references_per_epoch=1)
    model = train_captioner(x, caps, cfg, seed=0)
    assert len(model.history) == 2
    with pytest.raises(ValueError, match="references_per_epoch"):
        DecoderConfig(references_per_epoch=-1)


def _tiny_gpt2():
    """A GPT-2 of the real architecture (1 block, width 16) and a word-level tokenizer: no download."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    words = sorted({w for text in WORDS for w in text.split()} | {"a", "the", "loudly"})
    table = {w: i for i, w in enumerate(["<|endoftext|>", *words])}
    tok = Tokenizer(models.WordLevel(table, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    torch.manual_seed(0)
    lm = GPT2LMHeadModel(GPT2Config(vocab_size=len(table), n_positions=32, n_embd=16, n_layer=1, n_head=2))
    return lm, tokenizer


def test_the_gpt2_decoder_starts_from_the_language_model_learns_and_reloads_without_a_download(tmp_path):
    from w2clib.evaluate.captioning.gpt2 import GPT2PrefixDecoder
    from w2clib.evaluate.probes import torch_threads

    lm, tokenizer = _tiny_gpt2()
    wte = lm.transformer.wte.weight.detach().clone()
    x, caps = _toy()
    cfg = DecoderConfig(prefix_length=2, max_words=8, epochs=25, batch_size=32, lr=3e-3, beam_size=2)
    with torch_threads(1):
        untrained = GPT2PrefixDecoder.from_pretrained(16, Vocabulary.build(["a dog barks"]), cfg, lm, tokenizer)
        dog = Vocabulary.build(["a dog barks"]).index["dog"]
        assert torch.equal(untrained.tokens.weight[dog], wte[tokenizer.encode(" dog")[0]])  # GPT-2's embedding
        model = train_captioner(x, caps, cfg, seed=0, valid=(x[:20], caps[:20]), language_model=_tiny_gpt2())
        assert isinstance(model.model, GPT2PrefixDecoder)
        out = model.generate(x[:8])
        assert all(WORDS[i % 4] in caption for i, caption in enumerate(out)), out
        model.save(tmp_path / "gpt2cap")
        again = load_captioner(tmp_path / "gpt2cap")  # the architecture comes from config.json
        assert isinstance(again.model, GPT2PrefixDecoder) and again.generate(x[:8]) == out
    meta = json.loads((tmp_path / "gpt2cap" / "config.json").read_text())
    assert meta["decoder_kind"] == "gpt2" and meta["language_model"]["n_embd"] == 16


def test_the_gpt2_decoder_offline_says_what_to_download(monkeypatch, tmp_path):
    from w2clib.evaluate.captioning.gpt2 import require_gpt2

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-cache"))
    with pytest.raises(RuntimeError, match="GPT2LMHeadModel.from_pretrained"):
        require_gpt2("gpt2-not-cached-here")


def test_training_refuses_clips_that_all_lack_captions():
    with pytest.raises(ValueError, match="no clip has a non-empty caption"):
        train_captioner(np.zeros((2, 4), np.float32), [["", " "], []], DecoderConfig(epochs=1))
    with pytest.raises(ValueError, match="one caption list per clip"):
        train_captioner(np.zeros((3, 4), np.float32), [["a"]], DecoderConfig(epochs=1))


# ------------------------------------------------------------------------------------------------ baselines


def test_retrieval_returns_the_nearest_caption_and_constant_the_most_typical_one():
    texts = ["a dog", "a cat"]
    assert retrieval_captions(np.array([[0.1, 1.0], [2.0, 0.0]]), texts, np.eye(2)) == ["a cat", "a dog"]
    refs = [["a dog barks"], ["a dog barks loudly"], ["a dog barks"], ["rain"]]
    caption, score = best_constant_caption(refs, max_candidates=3, max_clips=10)
    assert caption == "a dog barks" and score > 0
    assert distinct_captions([["A dog.", "a dog"], ["rain"]]) == ["A dog.", "rain"]


# ------------------------------------------------------------------------------------------------ CLI


def test_caption_command_captions_files_with_a_saved_captioner(tmp_path, capsys):
    import soundfile as sf

    from w2clib.evaluate.baselines import get_baseline
    from w2clib.cli import main

    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    paths = []
    for i, freq in enumerate((220.0, 880.0, 220.0, 880.0)):
        path = tmp_path / f"tone{i}.wav"
        sf.write(path, (0.5 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.normal(size=t.size)).astype(np.float32),
                 16000)
        paths.append(str(path))
    x = get_baseline("logmel_stats").embed(paths)
    caps = [["a low hum"], ["a high beep"]] * 2
    cfg = DecoderConfig(prefix_length=2, d_model=16, n_layers=1, n_heads=2, dim_feedforward=32, epochs=30,
                        batch_size=4, lr=5e-3, beam_size=1, dropout=0.0)
    train_captioner(np.tile(x, (4, 1)), caps * 4, cfg, embedder={"name": "logmel_stats"}).save(tmp_path / "cap")
    assert main(["caption", paths[0], paths[1], "--captioner", str(tmp_path / "cap")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"{paths[0]}\ta low hum", f"{paths[1]}\ta high beep"]
    assert main(["caption", paths[0], "--captioner", str(tmp_path / "nothing")]) == 2
    assert "not a captioner folder" in capsys.readouterr().err


def test_a_captioner_on_segment_sequences_hears_order_and_the_cli_cuts_files_the_same_way(tmp_path, capsys):
    """Low-then-high and high-then-low have the same log-mel statistics as whole clips; cut into two
    segments they differ, so only a captioner on the segment sequence can say which way the pitch goes."""
    import soundfile as sf

    from w2clib.cli import main
    from w2clib.evaluate.baselines import get_baseline
    from w2clib.evaluate.embeddings import segmented_embedder

    t = np.arange(8000) / 16000
    low, high = (0.5 * np.sin(2 * np.pi * f * t) for f in (220.0, 1760.0))
    paths = []
    for name, wave in (("up", np.concatenate([low, high])), ("down", np.concatenate([high, low]))):
        paths.append(str(tmp_path / f"{name}.wav"))
        sf.write(paths[-1], wave.astype(np.float32), 16000, subtype="FLOAT")
    whole = get_baseline("logmel_stats").embed(paths)
    np.testing.assert_allclose(whole[0], whole[1], rtol=0.02, atol=0.05)  # order is (nearly) invisible to them
    seg = segmented_embedder(get_baseline("logmel_stats"), 2)
    x = seg.embed(paths)
    assert x.shape == (2, 2 * whole.shape[1]) and seg.settings["segments"] == 2
    np.testing.assert_allclose(x[0, :whole.shape[1]], x[1, whole.shape[1]:], atol=1e-4)  # the parts, in order
    cfg = DecoderConfig(prefix_length=2, d_model=16, n_layers=1, n_heads=2, dim_feedforward=32, epochs=30,
                        batch_size=4, lr=5e-3, beam_size=1, dropout=0.0)
    train_captioner(np.tile(x, (8, 1)), [["rising pitch"], ["falling pitch"]] * 8, cfg,
                    embedder={"name": "logmel_stats", "segments": 2}).save(tmp_path / "cap")
    assert main(["caption", *paths, "--captioner", str(tmp_path / "cap")]) == 0
    assert capsys.readouterr().out.strip().splitlines() == [f"{paths[0]}\trising pitch", f"{paths[1]}\tfalling pitch"]
    assert segmented_embedder(seg, 1) is seg
    with pytest.raises(ValueError, match="segments must be >= 1"):
        segmented_embedder(seg, 0)


def test_captioning_config_refuses_scenes_off_the_embedded_set_and_bad_segments():
    from w2clib.evaluate.captioning.config import CaptioningConfig

    assert CaptioningConfig(scenes={"scenes_per_pattern": 2}).scenes == {"scenes_per_pattern": 2}
    with pytest.raises(ValueError, match="embedded caption set"):
        CaptioningConfig(dataset="clotho", scenes={})
    with pytest.raises(ValueError, match="scenes_per_pattrn"):
        CaptioningConfig(scenes={"scenes_per_pattrn": 2})  # a typo fails when the profile is read
    with pytest.raises(ValueError, match="input_segments"):
        CaptioningConfig(input_segments=0)
