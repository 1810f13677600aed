"""The distillation losses (docs/method.md §3) and what a clip_x-trained checkpoint contains."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import w2clib
from w2clib.checkpoints import load_weights
from w2clib.training.losses import INIT_LOGIT_SCALE, CLIPLoss, DistillationLoss, clip_loss, needs_image_head
from w2clib.model import ModelConfig, Wav2CLIP, build_model
from w2clib.training import PretrainConfig, pretrain
from w2clib.training.engine import DistillationModule


def test_clip_loss_matches_a_hand_computed_example() -> None:
    # x rows are e1, e2 (scaled: normalisation must remove the scale); y rows are e1 and (0.6, 0.8).
    x = torch.tensor([[3.0, 0.0], [0.0, 0.5]])
    y = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    t = 1 / 0.07  # exp(log(1/0.07))
    # logits = t * [[1, 0.6], [0, 0.8]]; each row's CE with the diagonal as label is
    # log(1 + exp(off - diag)) for two columns.
    rows = [math.log1p(math.exp(t * (0.6 - 1.0))), math.log1p(math.exp(t * (0.0 - 0.8)))]
    cols = [math.log1p(math.exp(t * (0.0 - 1.0))), math.log1p(math.exp(t * (0.6 - 0.8)))]
    expected = 0.5 * (sum(rows) / 2 + sum(cols) / 2)
    got = clip_loss(x, y, torch.tensor(INIT_LOGIT_SCALE))
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert expected == pytest.approx(0.0147871, abs=1e-6)  # the number itself, for the reader


def test_clip_loss_is_symmetric_in_its_two_sides() -> None:
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 16, generator=gen), torch.randn(6, 16, generator=gen)
    scale = torch.tensor(2.0)
    assert clip_loss(x, y, scale).item() == pytest.approx(clip_loss(y, x, scale).item(), rel=1e-6)


def test_clip_loss_is_log_batch_for_orthogonal_pairs_and_small_for_matched_ones() -> None:
    eye = torch.eye(8)
    # cos = 0 everywhere except the diagonal: with scale exp(0) = 1, rows are (e, 1, 1, ...)
    row = -math.log(math.e / (math.e + 7))
    assert clip_loss(eye, eye, torch.tensor(0.0)).item() == pytest.approx(row, rel=1e-6)
    assert clip_loss(eye, eye, torch.tensor(math.log(100.0))).item() < 1e-20 + 1e-6
    shuffled = eye[torch.tensor([1, 0, 2, 3, 4, 5, 6, 7])]
    assert clip_loss(eye, shuffled, torch.tensor(math.log(100.0))).item() > 20.0


def test_clip_loss_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="equal shape"):
        clip_loss(torch.zeros(4, 8), torch.zeros(4, 9), torch.tensor(1.0))


def test_each_term_starts_at_temperature_0_07() -> None:
    loss = DistillationLoss("clip_x")
    params = dict(loss.named_parameters())
    assert sorted(params) == ["loss_fn_a.logit_scale", "loss_fn_i.logit_scale"]
    assert all(p.item() == pytest.approx(math.log(1 / 0.07)) for p in params.values())
    assert loss.temperatures() == pytest.approx({"temp_a": 0.07, "temp_i": 0.07})
    assert sorted(dict(DistillationLoss("clip").named_parameters())) == ["loss_fn.logit_scale"]


def test_clamp_keeps_scales_between_1_and_100() -> None:
    loss = DistillationLoss("clip_x", max_logit_scale=100.0)
    with torch.no_grad():
        loss.loss_fn_a.logit_scale.fill_(9.0)
        loss.loss_fn_i.logit_scale.fill_(-3.0)
    loss.clamp_()
    assert loss.loss_fn_a.logit_scale.item() == pytest.approx(math.log(100.0))
    assert loss.loss_fn_i.logit_scale.item() == 0.0
    free = DistillationLoss("clip_x", max_logit_scale=None)
    with torch.no_grad():
        free.loss_fn_a.logit_scale.fill_(9.0)
    free.clamp_()
    assert free.loss_fn_a.logit_scale.item() == 9.0


def _heads(dim: int = 8, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    model = build_model(ModelConfig(width=8, embed_dim=dim, image_head=True, head_dropout=0.0), seed=seed)
    return model.audio_transform, model.image_transform


def test_clip_x_is_the_mean_of_the_two_cross_projection_terms() -> None:
    gen = torch.Generator().manual_seed(1)
    a, v = torch.randn(5, 8, generator=gen), torch.randn(5, 8, generator=gen)
    audio_head, image_head = _heads()
    loss = DistillationLoss("clip_x")
    with torch.no_grad():
        loss.loss_fn_i.logit_scale.fill_(1.5)
    out = loss(a, v, audio_head, image_head)
    term_a = clip_loss(a, image_head(v), torch.tensor(INIT_LOGIT_SCALE))  # backbone vs image head
    term_i = clip_loss(audio_head(a), v, torch.tensor(1.5))  # audio head vs teacher target
    assert out.terms["loss_a"].item() == pytest.approx(term_a.item(), rel=1e-6)
    assert out.terms["loss_i"].item() == pytest.approx(term_i.item(), rel=1e-6)
    assert out.total.item() == pytest.approx(0.5 * (term_a + term_i).item(), rel=1e-6)


def test_clip_and_clip_i_compare_the_public_embedding() -> None:
    gen = torch.Generator().manual_seed(2)
    a, v = torch.randn(4, 8, generator=gen), torch.randn(4, 8, generator=gen)
    audio_head, image_head = _heads()
    scale = torch.tensor(INIT_LOGIT_SCALE)
    plain = DistillationLoss("clip")(a, v, audio_head, None)
    assert plain.total.item() == pytest.approx(clip_loss(audio_head(a), v, scale).item(), rel=1e-6)
    image = DistillationLoss("clip_i")(a, v, audio_head, image_head)
    assert image.total.item() == pytest.approx(clip_loss(audio_head(a), image_head(v), scale).item(), rel=1e-6)
    with pytest.raises(ValueError, match="image_head=True"):
        DistillationLoss("clip_i")(a, v, audio_head, None)


def test_loss_names_are_checked() -> None:
    assert needs_image_head("clip_x") and needs_image_head("clip_i") and not needs_image_head("clip")
    with pytest.raises(ValueError, match="clip_x"):
        DistillationLoss("clip_loss_x")


def test_clip_x_gradients_reach_both_scales_both_heads_and_the_backbone() -> None:
    model = build_model(ModelConfig(width=8, embed_dim=16, image_head=True), seed=3).train()
    module = DistillationModule(model, DistillationLoss("clip_x"))
    gen = torch.Generator().manual_seed(3)
    wave, target = torch.randn(4, 8000, generator=gen) * 0.1, torch.randn(4, 16, generator=gen)
    total, terms = module(wave, target)
    total.backward()
    grads = {name: p.grad for name, p in module.named_parameters()}
    for name in ("loss.loss_fn_a.logit_scale", "loss.loss_fn_i.logit_scale",
                 "model.audio_transform.sequential.0.weight", "model.audio_transform.sequential.3.weight",
                 "model.image_transform.sequential.0.weight", "model.image_transform.sequential.3.weight",
                 "model.audio_encoder.conv1.weight", "model.audio_encoder.layer4.1.conv2.weight"):
        assert grads[name] is not None and grads[name].abs().sum().item() > 0, name
    assert set(terms) == {"loss_a", "loss_i"}


def test_clip_loss_module_reports_its_temperature() -> None:
    fn = CLIPLoss(math.log(10.0))
    assert fn.temperature == pytest.approx(0.1)


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory):
    config = PretrainConfig(
        data="synthetic", data_options={"n_clips": 24, "dim": 16}, n_valid=4, clip_seconds=0.5,
        min_clip_seconds=0.25, width=8, batch_size=4, max_steps=3, schedule="constant",
        early_stopping_patience=None, num_workers=0, progress=False, final_weights="last",
    )
    return pretrain(config, tmp_path_factory.mktemp("clipx") / "run")


def test_clip_x_checkpoint_holds_the_official_layout_plus_the_image_head(trained_dir) -> None:
    keys = load_file(str(trained_dir / "checkpoint.safetensors")).keys()
    assert {k.split(".")[0] for k in keys} == {"audio_encoder", "audio_transform", "image_transform"}
    assert {k for k in keys if k.startswith("audio_transform")} == {
        f"audio_transform.sequential.{i}.{p}" for i in (0, 3) for p in ("weight", "bias")
    }
    meta = json.loads((trained_dir / "config.json").read_text())
    assert meta["model"]["image_head"] is True
    assert meta["training"]["pretrain"]["loss"] == "clip_x"
    assert set(meta["training"]["logit_scales"]) == {"loss_a", "loss_i"}
    assert meta["training"]["step"] == 3


def test_trained_checkpoint_loads_with_load_model_and_embeds(trained_dir) -> None:
    model = w2clib.load_model(trained_dir, device="cpu")
    assert isinstance(model, Wav2CLIP) and model.image_transform is not None
    wave = np.random.default_rng(0).normal(0, 0.1, (2, 8000)).astype(np.float32)
    emb = w2clib.embed_audio(wave, model)
    assert emb.shape == (2, 16) and np.isfinite(emb).all()
    # Backbone + audio head alone load into an official-layout model (no image head).
    state = {k: v for k, v in load_file(str(trained_dir / "checkpoint.safetensors")).items()
             if not k.startswith("image_transform")}
    plain = Wav2CLIP(ModelConfig(width=8, embed_dim=16)).eval()
    load_weights(plain, state, "test")
    with torch.no_grad():
        ours = model.to(memory_format=torch.contiguous_format)(torch.from_numpy(wave))
        theirs = plain(torch.from_numpy(wave))
    torch.testing.assert_close(ours, theirs)
