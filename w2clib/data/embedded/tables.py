"""Label tables of the embedded data: General MIDI programs and families, and ImageNet counterparts.

* ``GM_PROGRAMS`` -- the 128 General MIDI Level 1 program names (0-based numbers).
* ``GM_FAMILIES`` -- the 16 GM instrument families; program ``p`` belongs to family ``p // 8``.
  The drum kit (bank 128, not a GM program) is filed under ``"percussive"`` and numbered
  :data:`DRUM_KIT` (= 128) in the manifests.
* ``GM_IMAGENET`` -- GM programs whose instrument or sound has an ImageNet-1k class
  (42 programs + the drum kit -> 28 classes).  Chosen by hand: a program maps only where the
  ImageNet class depicts the thing that makes that sound (e.g. Church Organ -> "organ, pipe organ",
  but not the electric organs; Trumpet -> "cornet, horn, trumpet, trump").
* ``CONCEPT_IMAGENET`` -- Tux Paint / animal concepts with an ImageNet class (same rule).
* ``IMAGENET_NAMES`` -- index -> the ImageNet class description (as in ``timm``'s ImageNet info) for
  every index used above; ``tests/test_embedded_data.py`` checks these against ``timm``.

Items without an ImageNet class still carry their family or concept label; the ImageNet label set
is the subset that has one.
"""

from __future__ import annotations

__all__ = [
    "CONCEPT_IMAGENET",
    "DRUM_KIT",
    "DRUM_KIT_NAME",
    "GM_FAMILIES",
    "GM_IMAGENET",
    "GM_PROGRAMS",
    "IMAGENET_NAMES",
    "gm_family",
    "gm_program_name",
    "imagenet_short_name",
]

GM_PROGRAMS: tuple[str, ...] = (
    # piano
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    # chromatic percussion
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells",
    "Dulcimer",
    # organ
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion",
    "Harmonica", "Tango Accordion",
    # guitar
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)",
    "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar",
    "Guitar Harmonics",
    # bass
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass", "Slap Bass 1",
    "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    # strings
    "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings",
    "Orchestral Harp", "Timpani",
    # ensemble
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2", "Choir Aahs",
    "Voice Oohs", "Synth Voice", "Orchestra Hit",
    # brass
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1",
    "Synth Brass 2",
    # reed
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon",
    "Clarinet",
    # pipe
    "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    # synth lead
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
    "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    # synth pad
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)",
    "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    # synth effects
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)",
    "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    # ethnic
    "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    # percussive
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom", "Synth Drum",
    "Reverse Cymbal",
    # sound effects
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring", "Helicopter",
    "Applause", "Gunshot",
)

GM_FAMILIES: tuple[str, ...] = (
    "piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth lead", "synth pad", "synth effects", "ethnic", "percussive",
    "sound effects",
)

DRUM_KIT = 128
"""Program number used in the manifests for the GM drum kit (bank 128, preset 0)."""
DRUM_KIT_NAME = "Standard Drum Kit"

# GM program -> ImageNet-1k class index.  Why each maps is in the module docstring; the drum kit
# is the DRUM_KIT entry.
GM_IMAGENET: dict[int, int] = {
    0: 579, 1: 579,                    # acoustic / bright grand -> grand piano
    3: 881,                            # honky-tonk (a detuned upright) -> upright piano
    12: 642, 13: 642,                  # marimba, xylophone -> "marimba, xylophone"
    14: 494,                           # tubular bells -> "chime, bell, gong"
    19: 687,                           # church organ -> "organ, pipe organ"
    21: 401, 23: 401,                  # accordion, tango accordion -> accordion
    22: 593,                           # harmonica
    24: 402, 25: 402,                  # nylon / steel acoustic guitar
    26: 546, 27: 546, 28: 546, 29: 546, 30: 546,  # electric guitars
    40: 889, 110: 889,                 # violin, fiddle -> "violin, fiddle"
    42: 486,                           # cello
    46: 594,                           # orchestral harp -> harp
    47: 541, 116: 541,                 # timpani, taiko -> "drum, membranophone, tympan"
    56: 513, 59: 513,                  # trumpet, muted trumpet -> "cornet, horn, trumpet, trump"
    57: 875,                           # trombone
    60: 566,                           # French horn
    64: 776, 65: 776, 66: 776, 67: 776,  # saxophones
    68: 683,                           # oboe
    70: 432,                           # bassoon
    73: 558,                           # flute
    75: 699,                           # pan flute -> panpipe
    78: 902,                           # whistle
    79: 684,                           # ocarina
    105: 420,                          # banjo
    114: 822,                          # steel drums -> steel drum
    122: 978,                          # seashore
    124: 528,                          # telephone ring (an old bell ringer) -> dial telephone
    127: 763,                          # gunshot -> revolver
    DRUM_KIT: 541,                     # drum kit -> drum
}

# Tux Paint / animal concept -> ImageNet-1k class index (only where the class depicts the concept).
CONCEPT_IMAGENET: dict[str, int] = {
    "rooster": 7, "hen": 8, "vulture": 23, "owl": 24, "frog": 30, "iguana": 39, "toucan": 96,
    "duck": 97, "goose": 99, "koala": 105, "wombat": 106, "penguin": 145, "whale": 147,
    "orca": 148, "sea lion": 150, "dog": 248, "fox": 277, "lion": 291, "tiger": 292, "bear": 294,
    "bee": 309, "grasshopper": 311, "rabbit": 330, "squirrel": 335, "beaver": 337, "horse": 339,
    "zebra": 340, "pig": 341, "hippopotamus": 344, "cow": 345, "bull": 345, "bison": 347,
    "ram": 348, "sheep": 348, "camel": 354, "ferret": 359, "badger": 362, "gorilla": 366,
    "chimpanzee": 367, "elephant": 386, "bassoon": 432, "cello": 486, "fire truck": 555,
    "hammer": 587, "drum": 541, "drum kit": 541, "camera": 759, "toilet": 861,
    "vacuum cleaner": 882, "violin": 889, "washing machine": 897, "road sign": 919,
    "otter": 360, "wild boar": 342,
}

# ImageNet-1k index -> class description, exactly as timm's ImageNetInfo gives it.
IMAGENET_NAMES: dict[int, str] = {
    7: "cock", 8: "hen", 23: "vulture", 24: "great grey owl, great gray owl, Strix nebulosa",
    30: "bullfrog, Rana catesbeiana", 39: "common iguana, iguana, Iguana iguana", 96: "toucan",
    97: "drake", 99: "goose",
    105: "koala, koala bear, kangaroo bear, native bear, Phascolarctos cinereus", 106: "wombat",
    145: "king penguin, Aptenodytes patagonica",
    147: "grey whale, gray whale, devilfish, Eschrichtius gibbosus, Eschrichtius robustus",
    148: "killer whale, killer, orca, grampus, sea wolf, Orcinus orca", 150: "sea lion",
    248: "Eskimo dog, husky", 277: "red fox, Vulpes vulpes", 291: "lion, king of beasts, Panthera leo",
    292: "tiger, Panthera tigris", 294: "brown bear, bruin, Ursus arctos", 309: "bee",
    311: "grasshopper, hopper", 330: "wood rabbit, cottontail, cottontail rabbit",
    335: "fox squirrel, eastern fox squirrel, Sciurus niger", 337: "beaver", 339: "sorrel",
    340: "zebra", 341: "hog, pig, grunter, squealer, Sus scrofa", 342: "wild boar, boar, Sus scrofa",
    344: "hippopotamus, hippo, river horse, Hippopotamus amphibius", 345: "ox", 347: "bison",
    348: "ram, tup", 354: "Arabian camel, dromedary, Camelus dromedarius",
    359: "black-footed ferret, ferret, Mustela nigripes", 360: "otter", 362: "badger",
    366: "gorilla, Gorilla gorilla", 367: "chimpanzee, chimp, Pan troglodytes",
    386: "African elephant, Loxodonta africana", 401: "accordion, piano accordion, squeeze box",
    402: "acoustic guitar", 420: "banjo", 432: "bassoon", 486: "cello, violoncello",
    494: "chime, bell, gong", 513: "cornet, horn, trumpet, trump", 528: "dial telephone, dial phone",
    541: "drum, membranophone, tympan", 546: "electric guitar", 555: "fire engine, fire truck",
    558: "flute, transverse flute", 566: "French horn, horn", 579: "grand piano, grand",
    587: "hammer", 593: "harmonica, mouth organ, harp, mouth harp", 594: "harp",
    642: "marimba, xylophone", 683: "oboe, hautboy, hautbois", 684: "ocarina, sweet potato",
    687: "organ, pipe organ", 699: "panpipe, pandean pipe, syrinx", 759: "reflex camera",
    763: "revolver, six-gun, six-shooter", 776: "sax, saxophone", 822: "steel drum",
    861: "toilet seat", 875: "trombone", 881: "upright, upright piano", 882: "vacuum, vacuum cleaner",
    889: "violin, fiddle", 897: "washer, automatic washer, washing machine", 902: "whistle",
    919: "street sign", 978: "seashore, coast, seacoast, sea-coast",
}


def gm_family(program: int) -> str:
    """The GM family of ``program`` (0-127, or :data:`DRUM_KIT` -> ``"percussive"``)."""
    if program == DRUM_KIT:
        return "percussive"
    if not 0 <= program < 128:
        raise ValueError(f"GM program must be 0-127 or {DRUM_KIT} (drum kit), got {program}")
    return GM_FAMILIES[program // 8]


def gm_program_name(program: int) -> str:
    """The GM name of ``program`` (0-127, or :data:`DRUM_KIT`)."""
    if program == DRUM_KIT:
        return DRUM_KIT_NAME
    if not 0 <= program < 128:
        raise ValueError(f"GM program must be 0-127 or {DRUM_KIT} (drum kit), got {program}")
    return GM_PROGRAMS[program]


def imagenet_short_name(index: int) -> str:
    """The first synonym of ImageNet class ``index`` (``"grand piano"`` for 579), or ``""``."""
    return IMAGENET_NAMES.get(index, "").split(",")[0].strip() if index >= 0 else ""
