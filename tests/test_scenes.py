"""GM scenes: phrases, chords and duets rendered from a soundfont (w2clib.data.embedded.scenes)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from w2clib.data.embedded.scenes import (
    GM_SCENES_TIMGM6MB,
    SceneOptions,
    plan_scenes,
    scene_notes,
)
from w2clib.data.embedded.soundfonts import ClipRenderer, Note, RenderOptions
from w2clib.data.embedded.tables import gm_family
from tests.test_embedded_data import write_sf2


@pytest.fixture
def scene_sf2(tmp_path, monkeypatch):
    """Programs 0 (piano family) and 40 (strings), sounding on keys 40-80, standing in for TimGM6mb."""
    path = write_sf2(tmp_path / "scenes.sf2", presets=((0, 0), (0, 40)), key_range=(40, 80))
    monkeypatch.setenv("W2C_TIMGM6MB_SF2", str(path))
    return path


def test_the_plan_is_seeded_prefix_stable_and_duets_pair_two_families():
    small = plan_scenes(SceneOptions(programs=(0, 24, 40), scenes_per_pattern=2))
    large = plan_scenes(SceneOptions(programs=(0, 24, 40), scenes_per_pattern=4))
    assert len(small) == 3 * 3 * 2 and len(large) == 3 * 3 * 4
    for program in (0, 24, 40):
        for pattern in ("phrase", "chord", "duet"):
            pick = [s for s in small if (s.program, s.pattern) == (program, pattern)]
            assert pick == [s for s in large if (s.program, s.pattern) == (program, pattern)][:2]
    assert plan_scenes(SceneOptions(programs=(0, 24, 40), scenes_per_pattern=2, seed=1)) != small
    duets = [s for s in large if s.pattern == "duet"]
    assert all(gm_family(s.program2) != gm_family(s.program) for s in duets)
    assert all(s.program2 == -1 for s in large if s.pattern != "duet")
    assert all(43 <= s.key <= 72 for s in large)
    only_chords = plan_scenes(SceneOptions(programs=(0,), patterns=("chord",)))
    assert [s.pattern for s in only_chords] == ["chord"]


def test_scene_options_refuse_what_cannot_be_rendered():
    with pytest.raises(ValueError, match="pitched GM programs"):
        SceneOptions(programs=(0, 128))
    with pytest.raises(ValueError, match="subset of"):
        SceneOptions(patterns=("arpeggio",))
    with pytest.raises(ValueError, match="rises an octave"):
        SceneOptions(root_range=(60, 120))
    with pytest.raises(ValueError, match="two GM families"):
        SceneOptions(programs=(0, 1))
    with pytest.raises(ValueError, match="grid holds only"):
        plan_scenes(SceneOptions(programs=(0, 40), root_range=(60, 60), velocities=(100,), scenes_per_pattern=2))
    with pytest.raises(ValueError, match="scenes_per_pattrn"):
        SceneOptions.from_options({"scenes_per_pattrn": 2})


def test_a_scene_is_the_sum_of_its_notes(scene_sf2):
    """The synthesiser mixes voices linearly, so a duet (or a phrase) is its notes rendered one by one,
    summed: each note really sounds, on its own channel, at its own time."""
    renderer = ClipRenderer(scene_sf2, RenderOptions())
    opts = SceneOptions(programs=(0, 40))
    for scene in plan_scenes(opts):
        notes = scene_notes(scene, opts)
        together = renderer.render_notes(notes)
        alone = sum(renderer.render_notes([n]) for n in notes)
        np.testing.assert_allclose(together, alone, rtol=0, atol=1e-3 * float(np.abs(alone).max()))
        assert np.abs(together).max() > 0.05
    phrase = next(s for s in plan_scenes(opts) if s.pattern == "phrase")
    starts = [n.start_s for n in scene_notes(phrase, opts)]
    assert starts == pytest.approx([0.0, 0.375, 0.75, 1.125])
    assert [n.key - phrase.key for n in scene_notes(phrase, opts)] == [0, 4, 7, 12]


def test_render_notes_refuses_empty_and_out_of_clip_notes(scene_sf2):
    renderer = ClipRenderer(scene_sf2, RenderOptions(clip_seconds=1.0, note_seconds=0.5))
    with pytest.raises(ValueError, match="at least one note"):
        renderer.render_notes([])
    with pytest.raises(ValueError, match="inside the 1.0 s clip"):
        renderer.render_notes([Note(0, 60, 100, 0.5, 1.5)])
    with pytest.raises(KeyError, match="no preset"):
        renderer.render_notes([Note(0, 60, 100, 0.0, 0.5), Note(7, 60, 100, 0.0, 0.5)])


def test_scene_dataset_renders_caches_and_describes_each_clip(scene_sf2, tmp_path):
    opts = {"programs": [0, 40], "scenes_per_pattern": 2, "root_range": [40, 68], "clip_seconds": 1.0,
            "note_seconds": 0.8}
    folder = GM_SCENES_TIMGM6MB.prepare(tmp_path / "home", **opts)
    manifest = GM_SCENES_TIMGM6MB.load_manifest(tmp_path / "home", **opts)
    assert len(manifest) == 2 * 3 * 2 and set(manifest["pattern"]) == {"phrase", "chord", "duet"}
    assert set(manifest["split"]) == {"test"} and set(manifest["source"]) == {"gm_scenes_timgm6mb"}
    duets = manifest[manifest["pattern"] == "duet"]
    assert set(zip(duets["program"], duets["program2"])) == {(0, 40), (40, 0)}
    assert set(duets["program2_name"]) == {"Acoustic Grand Piano", "Violin"}
    assert (manifest.loc[manifest["pattern"] != "duet", "program2"] == -1).all()
    for path in manifest["audio_path"]:
        wave, rate = sf.read(path)
        assert rate == 16000 and len(wave) == 16000 and np.abs(wave).max() == pytest.approx(0.95, abs=1e-3)
    stamp = (folder / "info.json").stat().st_mtime_ns
    again = GM_SCENES_TIMGM6MB.prepare(tmp_path / "home", **opts)  # idempotent: nothing re-rendered
    assert again == folder and (folder / "info.json").stat().st_mtime_ns == stamp


def test_the_prepare_command_names_every_registered_dataset(capsys):
    from w2clib.cli import main
    from w2clib.data import DATASETS

    with pytest.raises(SystemExit):
        main(["prepare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(name in text for name in DATASETS), [n for n in DATASETS if n not in text]
