"""Training-time augmentations (w2clib.training.augment) and how the loader applies them.

Each transform is checked on a signal whose right answer is known (a tone's frequency after a speed
change, a burst's tail after reverberation, spectra after a band is removed), and the loader's
mixing is checked against the targets it must produce.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from w2clib.training import PretrainConfig
from w2clib.training import augment as aug
from w2clib.training.loader import BatchPart, PairDataset
from w2clib.training.sources import ArraySource

RATE = 16000


def _tone(freq: float, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def _peak_hz(wave: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1.0 / RATE)[np.argmax(spectrum)])


def _rms(wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))


def test_speed_change_moves_a_tones_pitch_by_its_factor_and_keeps_the_length():
    tone = _tone(500.0, seconds=2.0)
    for seed in range(4):
        rng = np.random.default_rng(seed)
        factor = np.random.default_rng(seed).uniform(0.8, 1.25)  # the factor the transform draws
        out = aug.change_speed(tone, rng, 0.8, 1.25)
        assert out.shape == tone.shape and out.dtype == np.float32
        voiced = out[: int(len(out) / max(factor, 1.0)) - 1]  # a faster clip ends in zeros
        assert abs(_peak_hz(voiced) - 500.0 * factor) < 3.0
        if factor > 1:
            assert not out[-int(len(out) * (1 - 1 / factor)) + 2:].any()
    same = aug.change_speed(tone, np.random.default_rng(0), 1.0, 1.0)
    np.testing.assert_allclose(same, tone, atol=1e-6)


def test_reverb_fills_the_silence_after_a_burst_and_keeps_length_and_level():
    burst = np.zeros(RATE, np.float32)
    burst[:800] = _tone(800.0, seconds=0.05)
    out = aug.add_reverb(burst, np.random.default_rng(3), 0.5, 0.5)
    assert out.shape == burst.shape and np.isfinite(out).all()
    assert abs(_rms(out) - _rms(burst)) < 1e-4 * max(_rms(burst), 1.0)
    tail = out[2400:5600]  # 0.15-0.35 s: silent in the dry signal, decaying (not yet -60 dB) in the wet one
    assert _rms(tail) > 1e-3 * _rms(burst[:800])
    late = out[int(0.45 * RATE):]
    assert _rms(late) < _rms(tail)  # it decays


def test_time_masks_zero_spans_no_longer_than_asked_and_leave_the_rest():
    wave = np.ones(RATE, np.float32)
    out = aug.mask_time(wave, np.random.default_rng(1), 1, 1600)
    zeros = np.flatnonzero(out == 0)
    assert len(zeros) <= 1600
    if len(zeros):
        assert zeros[-1] - zeros[0] + 1 == len(zeros)  # one contiguous span
    assert np.array_equal(out[out != 0], wave[out != 0])
    assert np.array_equal(aug.mask_time(wave, np.random.default_rng(1), 0, 1600), wave)


def test_frequency_masks_remove_whole_bins_and_nothing_else():
    rng = np.random.default_rng(0)
    wave = rng.standard_normal(RATE).astype(np.float32)
    out = aug.mask_frequency(wave, np.random.default_rng(5), 2, 0.3)
    before, after = np.fft.rfft(wave), np.fft.rfft(out)
    removed = np.abs(after) < 1e-3 * np.abs(before)
    kept = ~removed
    assert removed.any() and kept.any()
    np.testing.assert_allclose(after[kept], before[kept], rtol=1e-3, atol=1e-3)
    # the removed bins form at most two bands and span at most 2 x 30 % of the mel range
    edges = np.flatnonzero(np.diff(removed.astype(int)) == 1)
    assert len(edges) <= 2


def test_mix_pair_weights_two_clips_at_equal_loudness():
    a, b = _tone(300.0), _tone(1200.0, amp=0.05)
    out = aug.mix_pair(a, b, 0.75)
    spec = np.abs(np.fft.rfft(out))
    freqs = np.fft.rfftfreq(len(out), 1.0 / RATE)
    ratio = spec[np.argmin(np.abs(freqs - 300))] / spec[np.argmin(np.abs(freqs - 1200))]
    assert abs(ratio - 3.0) < 0.05  # 0.75 : 0.25 once both are at the same level
    np.testing.assert_allclose(aug.mix_pair(a, np.zeros_like(a), 0.6), 0.6 * a, atol=1e-7)


def _dataset(**changes) -> tuple[PairDataset, np.ndarray]:
    targets = np.eye(4, dtype=np.float32)[:3] * 2.0  # not unit length: the mix uses unit targets
    waves = [_tone(f) for f in (200.0, 400.0, 800.0)]
    source = ArraySource(waves, targets, name="tones")
    base = dict(data="synthetic", n_valid=0, clip_seconds=1.0, min_clip_seconds=0.1, schedule="constant",
                early_stopping_patience=None, final_weights="last", batch_size=2, num_workers=0)
    return PairDataset([BatchPart(source, 2)], PretrainConfig(**{**base, **changes}), train=True), targets


def test_mixing_mixes_the_unit_targets_with_the_waveform_weights():
    dataset, targets = _dataset(mix_prob=1.0, mix_range=[0.6, 0.8])
    units = targets / 2.0
    for step in range(12):
        item = dataset[(0, 0, 0, step, 0)]
        t = item["target"]
        weight = t[0]  # item 0's own share (its unit target is e0)
        assert 0.6 - 1e-6 <= weight <= 1.0 + 1e-6
        partner = t - weight * units[0]
        if weight < 1.0 - 1e-6:  # mixed with another item: its share is the rest
            assert 0.6 - 1e-6 <= weight <= 0.8 + 1e-6
            assert abs(partner.sum() - (1.0 - weight)) < 1e-5 and np.count_nonzero(np.round(partner, 6)) == 1
            other = int(np.argmax(partner))
            freqs = (200.0, 400.0, 800.0)
            spec = np.abs(np.fft.rfft(item["wave"]))
            hz = np.fft.rfftfreq(len(item["wave"]), 1.0 / RATE)
            own, theirs = (spec[np.argmin(np.abs(hz - freqs[i]))] for i in (0, other))
            assert abs(own / theirs - weight / (1 - weight)) < 0.05
    # off by default: the item and its target are untouched
    plain, _ = _dataset()
    item = plain[(0, 0, 0, 0, 0)]
    np.testing.assert_array_equal(item["target"], targets[0])


def test_augmentations_off_by_default_leave_the_batches_of_earlier_configs_unchanged():
    plain, _ = _dataset()
    masked, _ = _dataset(time_masks=0, freq_masks=0, reverb_prob=0.0, mix_prob=0.0)
    for step in range(3):
        np.testing.assert_array_equal(plain[(0, 1, 0, step, 0)]["wave"], masked[(0, 1, 0, step, 0)]["wave"])
    on, _ = _dataset(speed_range=[0.9, 1.1], reverb_prob=1.0, time_masks=2, freq_masks=1)
    again, _ = _dataset(speed_range=[0.9, 1.1], reverb_prob=1.0, time_masks=2, freq_masks=1)
    a, b = on[(0, 1, 0, 5, 1)]["wave"], again[(0, 1, 0, 5, 1)]["wave"]
    np.testing.assert_array_equal(a, b)  # reproducible from (seed, epoch, step, slot)
    assert not np.array_equal(a, plain[(0, 1, 0, 5, 1)]["wave"])


@pytest.mark.parametrize("changes, message", [
    ({"mix_prob": 1.5}, "mix_prob must be a probability"),
    ({"reverb_prob": -0.1}, "reverb_prob must be a probability"),
    ({"mix_range": [0.9, 0.5]}, "mix_range must be"),
    ({"speed_range": [1.2, 0.9]}, "speed_range must be"),
    ({"speed_range": [0.1, 1.0]}, "speed_range must be"),
    ({"reverb_rt60": [0.5]}, "reverb_rt60 must be"),
    ({"time_masks": -1}, "time_masks must be"),
    ({"freq_masks": 1.5}, "freq_masks must be"),
    ({"freq_mask_fraction": 2.0}, "freq_mask_fraction"),
])
def test_bad_augmentation_settings_are_refused_with_the_field_named(changes, message):
    with pytest.raises(ValueError, match=message):
        PretrainConfig(**changes)


def test_a_finished_run_of_an_earlier_version_keeps_its_key():
    """Fields added later are left out of the run key at their defaults (a published run is reused)."""
    import hashlib

    from w2clib.training.run import _LATER_FIELDS, _done_key

    config = PretrainConfig(lr=2e-3)
    earlier = {k: v for k, v in config.to_dict().items() if k not in _LATER_FIELDS}
    expected = hashlib.sha256(json.dumps(earlier, sort_keys=True, default=str).encode()).hexdigest()[:16]
    assert _done_key(config) == expected
    assert _done_key(config.replace(mix_prob=0.5)) != expected
