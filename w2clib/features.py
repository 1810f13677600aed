"""Deprecated name of :mod:`w2clib.teachers.targets` (the teacher-target cache); import from there."""

import warnings

from .teachers.targets import *  # noqa: F403
from .teachers.targets import __all__  # noqa: F401

warnings.warn("w2clib.features is now w2clib.teachers.targets", DeprecationWarning, stacklevel=2)
