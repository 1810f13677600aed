"""Audio-to-image generation (the paper's Figures 4-5) and an independent judge of the pictures.

    from w2clib.generate import generate_image, load_vqgan
    teacher = w2clib.load_teacher("packaged")           # offline perceptor: EfficientNet-Lite0 tower
    image = generate_image(audio_embedding, teacher, steps=300, size=160, cutouts=8, seed=0)
    image = generate_image(e, clip, generator=load_vqgan(), size=512, steps=500)   # the paper's recipe

Modules: :mod:`~w2clib.generate.optimize` (the loop, resumable), :mod:`~w2clib.generate.images`
(Fourier and VQGAN parameterisations), :mod:`~w2clib.generate.cutouts` (augmented views),
:mod:`~w2clib.generate.vqgan` (the decoder port) and :mod:`~w2clib.generate.weights` (its download),
:mod:`~w2clib.generate.video`, :mod:`~w2clib.generate.judge` (EfficientNet-Lite2), and notebook 10's
:mod:`~w2clib.generate.experiment`, :mod:`~w2clib.generate.figures`, :mod:`~w2clib.generate.config`.
"""

from .config import GenerationConfig, generation_config
from .judge import ImageNetJudge, agreement, load_judge
from .optimize import Generation, generate, generate_image, spherical_distance
from .video import generate_video
from .weights import load_vqgan

__all__ = [
    "Generation",
    "GenerationConfig",
    "ImageNetJudge",
    "agreement",
    "generate",
    "generate_image",
    "generate_video",
    "generation_config",
    "load_judge",
    "load_vqgan",
    "spherical_distance",
]
