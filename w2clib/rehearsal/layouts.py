"""Tiny datasets in the folder layouts, file names, CSV columns and encodings of the real releases.

Every builder writes real audio (soundfile) and returns what the readers must find -- including one
corrupt file, one missing file and one too-short clip per dataset, so ``validate()`` can be checked
exactly.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

from .audio import Expected, write_corrupt, write_wav

__all__ = [
    "ESC50_ROWS", "US8K_ROWS", "CLOTHO_CLIPS", "TAU_FOLDER", "TAU_ROWS", "FSD_DEV", "FSD_EVAL", "FSD_VOCAB",
    "build_esc50", "build_urbansound8k", "build_clotho", "build_tau2020", "build_fsd50k",
]

# --------------------------------------------------------------------------- ESC-50

ESC50_ROWS = [  # filename, fold, target, category, esc10, src_file, take
    ("1-100032-A-0.wav", 1, 0, "dog", True, "100032", "A"),
    ("1-115545-B-48.wav", 1, 48, "fireworks", False, "115545", "B"),
    ("2-102414-A-17.wav", 2, 17, "pouring_water", False, "102414", "A"),
    ("3-141240-C-44.wav", 3, 44, "engine", False, "141240", "C"),
    ("4-181286-A-10.wav", 4, 10, "rain", True, "181286", "A"),  # too short (2 s)
    ("5-200334-A-1.wav", 5, 1, "rooster", True, "200334", "A"),  # corrupt
    ("5-9032-A-0.wav", 5, 0, "dog", True, "9032", "A"),  # missing
]


def build_esc50(folder: Path) -> Expected:
    """``folder/audio/*.wav`` (5 s, 44.1 kHz mono) + ``folder/meta/esc50.csv``, as in the repository."""
    audio = folder / "audio"
    for i, (name, *_rest) in enumerate(ESC50_ROWS):
        if name.startswith("4-"):
            write_wav(audio / name, 2.0, seed=i)
        elif name.startswith("5-200334"):
            write_corrupt(audio / name)
        elif not name.startswith("5-9032"):
            write_wav(audio / name, 5.0, freq=200.0 + 50 * i, seed=i)
    (folder / "meta").mkdir(parents=True, exist_ok=True)
    with open(folder / "meta" / "esc50.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        writer.writerows(ESC50_ROWS)
    return Expected(
        folder, [r[0][:-4] for r in ESC50_ROWS], missing=[str(audio / "5-9032-A-0.wav")],
        corrupt=[str(audio / "5-200334-A-1.wav")], too_short=[str(audio / "4-181286-A-10.wav")],
    )


# --------------------------------------------------------------------------- UrbanSound8K

US8K_ROWS = [  # slice_file_name, fsID, start, end, salience, fold, classID, class
    ("100032-3-0-0.wav", 100032, 0.0, 0.317551, 1, 5, 3, "dog_bark"),
    ("100263-2-0-117.wav", 100263, 58.5, 62.5, 1, 5, 2, "children_playing"),
    ("101415-3-0-2.wav", 101415, 1.0, 5.0, 1, 1, 3, "dog_bark"),
    ("102305-6-0-0.wav", 102305, 0.0, 2.6, 1, 10, 6, "gun_shot"),
    ("103074-7-0-0.wav", 103074, 7.8, 11.8, 2, 1, 7, "jackhammer"),  # empty (0 samples)
    ("105029-7-2-5.wav", 105029, 2.5, 6.5, 1, 3, 7, "jackhammer"),  # corrupt
    ("106905-5-0-0.wav", 106905, 0.0, 4.0, 2, 2, 5, "engine_idling"),  # missing
]


def build_urbansound8k(root: Path) -> Expected:
    """``root/UrbanSound8K/{audio/foldN,metadata}``; rates, depths and channels vary per file."""
    base = root / "UrbanSound8K"
    formats = [(44100, 1, "PCM_16"), (48000, 2, "PCM_24"), (22050, 2, "PCM_16"), (96000, 1, "PCM_24")]
    paths = {}
    for i, (name, _fs, start, end, _sal, fold, _cid, _cls) in enumerate(US8K_ROWS):
        path = base / "audio" / f"fold{fold}" / name
        paths[name] = path
        if name.startswith("103074"):
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), np.zeros(0, np.float32), 44100, subtype="PCM_16")
        elif name.startswith("105029"):
            write_corrupt(path)
        elif not name.startswith("106905"):
            sr, ch, sub = formats[i % len(formats)]
            write_wav(path, end - start, sr, channels=ch, subtype=sub, seed=i)
    (base / "metadata").mkdir(parents=True, exist_ok=True)
    with open(base / "metadata" / "UrbanSound8K.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"])
        writer.writerows(US8K_ROWS)
    return Expected(
        root, [r[0][:-4] for r in US8K_ROWS], missing=[str(paths["106905-5-0-0.wav"])],
        corrupt=[str(paths["105029-7-2-5.wav"])], too_short=[str(paths["103074-7-0-0.wav"])],
    )


# --------------------------------------------------------------------------- Clotho

CLOTHO_CLIPS = {  # split -> [(file_name, captions, keywords, seconds or "corrupt"/"missing")]
    "development": [
        ("Distorted AM Radio noise.wav", ["A radio hisses, and a voice, far away, mumbles.",
                                          "Static from a radio changes pitch.", "An old radio is tuned.",
                                          "Noise from a broken radio fills the room.",
                                          "A radio crackles while someone turns the dial."],
         "radio;static;noise", 16.0),
        ("Footsteps on snow_1-2.wav", ["Footsteps crunch on fresh snow.", "Someone walks slowly in the snow.",
                                       "Boots step over crisp snow.", "A person walks on snow, then stops.",
                                       "Crunching steps in deep snow."], "footsteps;snow;winter", 5.0),
    ],
    "validation": [
        ("Café ambience.wav", ["People chat in a busy café.", "Cups clink while people talk.",
                               "Background chatter in a coffee shop.", "A barista steams milk nearby.",
                               "Voices and dishes in a small café."], "café;people;talking", 15.5),
        ("rain on tin roof.wav", ["Rain drums on a metal roof.", "Heavy rain hits a tin roof.",
                                  "Water patters steadily on metal.", "A storm pours onto a shed roof.",
                                  "Rain falls on a roof, loud and steady."], "rain;roof;metal", "missing"),
    ],
    "evaluation": [
        ("bird_chirps.wav", ["Birds chirp in the morning.", "Several small birds sing.",
                             "Birdsong fills a quiet garden.", "Birds call to each other in trees.",
                             "A chorus of birds at dawn."], "birds;chirp;morning", 20.0),
        ("engine idle.wav", ["An engine idles, then revs.", "A car motor runs steadily.",
                             "A vehicle engine rumbles at rest.", "An idling truck engine.",
                             "A motor hums and sputters."], "engine;car;idle", "corrupt"),
    ],
}


def build_clotho(root: Path, *, archives: Path | None = None) -> Expected:
    """``root/clotho_{captions,metadata}_<split>.csv`` and ``<split>/*.wav``; with ``archives`` the
    audio goes into ``archives/clotho_audio_<split>.7z`` (top folder ``<split>/``) instead."""
    import py7zr

    expected = Expected(root, [])
    staging = (archives / "_staging") if archives else root
    for split, clips in CLOTHO_CLIPS.items():
        with open(root / f"clotho_captions_{split}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["file_name"] + [f"caption_{i}" for i in range(1, 6)])
            for name, captions, _kw, _sec in clips:
                writer.writerow([name, *captions])
        with open(root / f"clotho_metadata_{split}.csv", "w", newline="", encoding="ISO-8859-1") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["file_name", "keywords", "sound_id", "sound_link", "start_end_samples",
                             "manufacturer", "license"])
            for i, (name, _caps, keywords, _sec) in enumerate(clips):
                writer.writerow([name, keywords, str(1000 + i), f"https://freesound.org/s/{1000 + i}",
                                 "", "Zoë", "http://creativecommons.org/licenses/by/3.0/"])
        for i, (name, _caps, _kw, seconds) in enumerate(clips):
            expected.clip_ids.append(Path(name).stem)
            path = staging / split / name
            final = root / split / name
            if seconds == "corrupt":
                write_corrupt(path)
                expected.corrupt.append(str(final))
            elif seconds == "missing":
                expected.missing.append(str(final))
            else:
                write_wav(path, float(seconds), freq=300.0 + 40 * i, seed=i)
                if float(seconds) < 15:
                    expected.too_short.append(str(final))
        if archives:
            archives.mkdir(parents=True, exist_ok=True)
            with py7zr.SevenZipFile(archives / f"clotho_audio_{split}.7z", "w",
                                    filters=[{"id": py7zr.FILTER_COPY}]) as z:
                for path in sorted((staging / split).glob("*.wav")):
                    z.write(path, f"{split}/{path.name}")
    return expected


# --------------------------------------------------------------------------- TAU 2020 Mobile

TAU_FOLDER = "TAU-urban-acoustic-scenes-2020-mobile-development"
TAU_ROWS = [  # filename, scene_label, identifier, source_label, setup ("train"/"evaluate"/None), kind
    ("audio/airport-barcelona-0-0-a.wav", "airport", "barcelona-0", "a", "train", 10.0),
    ("audio/bus-helsinki-106-3046-s2.wav", "bus", "helsinki-106", "s2", "train", 10.0),
    ("audio/park-lisbon-1000-40104-b.wav", "park", "lisbon-1000", "b", "evaluate", 10.0),
    ("audio/tram-vienna-285-8639-s5.wav", "tram", "vienna-285", "s5", "evaluate", 4.0),  # too short
    ("audio/metro-paris-52-1498-c.wav", "metro", "paris-52", "c", None, "corrupt"),
    ("audio/street_traffic-prague-1102-43234-s1.wav", "street_traffic", "prague-1102", "s1", "train", "missing"),
]


def build_tau2020(root: Path) -> Expected:
    """``root/TAU-…-development/{audio/*.wav, meta.csv, evaluation_setup/fold1_*.csv}`` (tabs)."""
    base = root / TAU_FOLDER
    expected = Expected(root, [Path(r[0]).stem for r in TAU_ROWS])
    for i, (name, _scene, _ident, _dev, _setup, kind) in enumerate(TAU_ROWS):
        path = base / name
        if kind == "corrupt":
            write_corrupt(path)
            expected.corrupt.append(str(path))
        elif kind == "missing":
            expected.missing.append(str(path))
        else:
            write_wav(path, float(kind), subtype="PCM_24", freq=150.0 + 30 * i, seed=i)
            if float(kind) < 10:
                expected.too_short.append(str(path))
    with open(base / "meta.csv", "w", newline="") as f:
        f.write("filename\tscene_label\tidentifier\tsource_label\n")
        for name, scene, ident, dev, _s, _k in TAU_ROWS:
            f.write(f"{name}\t{scene}\t{ident}\t{dev}\n")
    setup = base / "evaluation_setup"
    setup.mkdir(parents=True, exist_ok=True)
    with open(setup / "fold1_train.csv", "w") as f:
        f.write("filename\tscene_label\n" + "".join(f"{r[0]}\t{r[1]}\n" for r in TAU_ROWS if r[4] == "train"))
    with open(setup / "fold1_evaluate.csv", "w") as f:
        f.write("filename\tscene_label\n" + "".join(f"{r[0]}\t{r[1]}\n" for r in TAU_ROWS if r[4] == "evaluate"))
    with open(setup / "fold1_test.csv", "w") as f:
        f.write("filename\n" + "".join(f"{r[0]}\n" for r in TAU_ROWS if r[4] == "evaluate"))
    return expected


# --------------------------------------------------------------------------- FSD50K

FSD_DEV = [  # fname, labels, mids, split, seconds or kind
    ("64760", "Electric_guitar,Guitar,Plucked_string_instrument,Musical_instrument,Music",
     "/m/02sgy,/m/0342h,/m/0fx80y,/m/04szw,/m/04rlf", "train", 4.5),
    ("16399", "Bark,Dog,Domestic_animals_and_pets,Animal", "/m/05tny_,/m/0bt9lr,/m/068hy,/m/0jbk", "train", 1.2),
    ("31244", "Water_tap_and_faucet,Sink_(filling_or_washing),Water,Liquid", "/m/02jz0l,/m/0130jx,/m/0838f,/m/04k94",
     "val", 8.0),
    ("2033", "Speech,Human_voice", "/m/09x0r,/m/09l8g", "train", "corrupt"),
]
FSD_EVAL = [
    ("37199", "Siren,Vehicle", "/m/03kmc9,/m/07yv9", 3.0),
    ("21914", "Crash_cymbal,Cymbal,Percussion,Musical_instrument,Music",
     "/m/0bm02,/m/01qbl,/m/0l14md,/m/04szw,/m/04rlf",
     0.1),  # too short
    ("99990", "Clapping,Hands", "/m/0l15bq,/m/0k65p", "missing"),
]
FSD_VOCAB = sorted({lab for row in FSD_DEV + FSD_EVAL for lab in row[1].split(",")})


def build_fsd50k(root: Path) -> Expected:
    """``root/FSD50K.{dev,eval}_audio/*.wav`` and ``root/FSD50K.ground_truth/*.csv``."""
    expected = Expected(root, [r[0] for r in FSD_DEV + FSD_EVAL])
    for folder, rows in (("FSD50K.dev_audio", FSD_DEV), ("FSD50K.eval_audio", [(*r[:3], "", r[3]) for r in FSD_EVAL])):
        for i, (fname, *_mid, kind) in enumerate(rows):
            path = root / folder / f"{fname}.wav"
            if kind == "corrupt":
                write_corrupt(path)
                expected.corrupt.append(str(path))
            elif kind == "missing":
                expected.missing.append(str(path))
            else:
                write_wav(path, float(kind), seed=i, freq=500.0 + 100 * i)
                if float(kind) < 0.3:
                    expected.too_short.append(str(path))
    gt = root / "FSD50K.ground_truth"
    gt.mkdir(parents=True, exist_ok=True)
    with open(gt / "dev.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["fname", "labels", "mids", "split"])
        writer.writerows(r[:4] for r in FSD_DEV)
    with open(gt / "eval.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["fname", "labels", "mids"])
        writer.writerows(r[:3] for r in FSD_EVAL)
    with open(gt / "vocabulary.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerows((i, label, f"/m/{i:04d}") for i, label in enumerate(FSD_VOCAB))
    return expected
