"""VGGSound: ~200 k 10 s YouTube clips, 309 classes -- the paper's pre-training and evaluation set.

Source: ``vggsound.csv`` from the VGG group (CC BY 4.0; the videos belong to their owners), no
header, rows ``youtube_id,start_seconds,label,split`` (labels may contain quoted commas).  Clip ids
are ``{youtube_id}_{start:06d}``.  The validation split is the last 500 ids of the sorted train
list (as the reference implementation does); they get ``split="valid"``.

Getting the videos (a user's machine, hours to days):

* :func:`download_videos` runs yt-dlp (imported lazily) per clip, resumable: a video already on
  disk is skipped, and videos YouTube reports as gone (private, removed, blocked; ~20 %) are logged
  once and never retried unless ``retry_unavailable=True``.  With ``ffmpeg`` on the PATH only the
  10 s section is fetched; otherwise the whole video, and extraction seeks to the clip.
* A mirror of the videos is fetched through the same yt-dlp code: ``$W2C_MIRROR`` (videos at
  ``<mirror>/vggsound/videos/{youtube_id}.mp4``) or ``$W2C_VIDEO_URL_TEMPLATE``
  (:mod:`w2clib.mirrors`).  Pre-cut clips work too: put them at ``video/{clip_id}.mp4`` (start 0).
* :func:`extract_media` writes 16 kHz mono ``audio/{clip_id}.wav`` and frames
  ``frames_{fps}fps/{clip_id}/NNNN.jpg`` (1 fps default, 30 fps as in the paper), resumable and
  shardable: worker ``i`` of ``n`` takes every ``n``-th clip of the sorted manifest.

Logs (JSON lines, one file per worker, under ``logs/``) keep the status of every download and
extraction, so drops (unavailable, no audio, shorter than 10 s) are counted and reported, never
silently lost.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .. import mirrors
from .base import MANIFEST_FILE, Capabilities, Dataset, ValidationReport, check_audio_file, write_manifest
from .download import RemoteFile, fetch
from .video import DEFAULT_FPS, extract_clip

__all__ = [
    "VGGSoundDataset",
    "VGGSOUND",
    "VideoUnavailable",
    "clip_id_for",
    "read_vggsound_csv",
    "assign_validation",
    "youtube_fetcher",
    "download_videos",
    "extract_media",
    "read_log",
    "N_VALID",
    "CLIP_SECONDS",
]

CSV_URL = "https://www.robots.ox.ac.uk/~vgg/data/vggsound/vggsound.csv"
N_VALID = 500
CLIP_SECONDS = 10.0
SPLITS = ("train", "test")
# Phrases yt-dlp uses for videos that will not come back; anything else is retried next run.
_GONE = (
    "video unavailable", "private video", "has been removed", "is not available", "account associated",
    "copyright", "members-only", "members only", "sign in to confirm your age", "age-restricted",
    "who has blocked it", "not made this video available", "terminated", "no longer available",
)

Fetcher = Callable[[str, float, Path], tuple[Path, float]]


class VideoUnavailable(Exception):
    """The video is gone for good (private, removed, blocked): logged and not retried."""


def clip_id_for(youtube_id: str, start_s: float) -> str:
    """VGGSound's clip id: ``{youtube_id}_{start:06d}`` (e.g. ``---g-f_I2yQ_000001``)."""
    return f"{youtube_id}_{int(start_s):06d}"


def read_vggsound_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ``vggsound.csv``: columns ``clip_id, youtube_id, start_s, label, split`` (train/test).

    Raises:
        ValueError: a row does not have 4 fields, a bad start time, or an unknown split.
    """
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for line_no, row in enumerate(csv.reader(f), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 4:
                raise ValueError(f"{path}:{line_no}: expected youtube_id,start_seconds,label,split, got {row}")
            ytid, start, label, split = (v.strip() for v in row)
            try:
                start_s = int(float(start))
            except ValueError as err:
                raise ValueError(f"{path}:{line_no}: start_seconds {start!r} is not a number") from err
            if split not in SPLITS:
                raise ValueError(f"{path}:{line_no}: split {split!r} is not one of {SPLITS}")
            rows.append((clip_id_for(ytid, start_s), ytid, start_s, label, split))
    df = pd.DataFrame(rows, columns=["clip_id", "youtube_id", "start_s", "label", "split"])
    return df.drop_duplicates("clip_id", keep="first").reset_index(drop=True)


def assign_validation(df: pd.DataFrame, n_valid: int = N_VALID) -> pd.DataFrame:
    """Mark the last ``n_valid`` clip ids of the sorted train list as ``split="valid"``."""
    if n_valid < 0:
        raise ValueError(f"n_valid must be >= 0, got {n_valid}")
    out = df.copy()
    train = sorted(out.loc[out["split"] == "train", "clip_id"])
    valid = set(train[len(train) - n_valid :]) if n_valid else set()
    out.loc[out["clip_id"].isin(valid), "split"] = "valid"
    return out


# --------------------------------------------------------------------------- logs


def _log_path(root: Path, kind: str, shard: tuple[int, int]) -> Path:
    return root / "logs" / f"{kind}-{shard[0]}of{shard[1]}.jsonl"


def _append(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()


def read_log(root: str | os.PathLike[str], kind: str) -> dict[str, dict]:
    """Latest record per clip id over all workers' ``logs/{kind}-*.jsonl`` (``download``,
    ``extract-1fps`` …).  A torn last line from a killed worker is ignored."""
    latest: dict[str, dict] = {}
    for name in sorted(glob.glob(str(Path(root) / "logs" / f"{glob.escape(kind)}-*of*.jsonl"))):
        with open(name, encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                cid = record.get("clip_id")
                if cid and record.get("t", 0) >= latest.get(cid, {}).get("t", -1):
                    latest[cid] = record
    return latest


def _select(df: pd.DataFrame, shard: tuple[int, int] | None, limit: int | None) -> pd.DataFrame:
    """Worker ``i`` of ``n`` takes rows ``i, i+n, …`` of the manifest sorted by clip id."""
    i, n = shard or (0, 1)
    if not (isinstance(i, int) and isinstance(n, int) and n >= 1 and 0 <= i < n):
        raise ValueError(f"shard must be (i, n) with 0 <= i < n, got {shard!r}")
    rows = df.sort_values("clip_id", kind="stable").iloc[i::n]
    return rows.iloc[:limit] if limit is not None else rows


# --------------------------------------------------------------------------- downloading


def youtube_fetcher(*, cut: bool | None = None, format: str | None = None, cookiefile: str | None = None,
                    quiet: bool = True, url_template: str | None = None) -> Fetcher:
    """A fetch function for :func:`download_videos` built on yt-dlp.

    Args:
        cut: fetch only the 10 s section (needs ``ffmpeg`` on the PATH); default: when ffmpeg exists.
        format: yt-dlp format selector; default: a single-file mp4 with audio, at most 480 p.
        cookiefile: a cookies.txt for YouTube, if it rate-limits you.
        url_template: fetch ``url_template.format(youtube_id=…)`` (a mirror's direct mp4 URL, read by
            yt-dlp's generic extractor) instead of the YouTube page; default
            :func:`w2clib.mirrors.video_url_template` (``$W2C_VIDEO_URL_TEMPLATE`` or
            ``$W2C_MIRROR/vggsound/videos/{youtube_id}.mp4``), else YouTube.  A mirror's HTTP
            404 / 410 means the video is gone.

    The returned function ``fetch(youtube_id, start_s, out_stem) -> (path, clip_start_in_file_s)``
    raises :class:`VideoUnavailable` for videos that are gone.
    """
    try:
        import yt_dlp
        from yt_dlp.utils import download_range_func
    except ImportError as err:
        raise ImportError("downloading VGGSound videos needs yt-dlp: pip install yt-dlp") from err
    if cut is None:
        cut = shutil.which("ffmpeg") is not None
    selector = format or "best[ext=mp4][acodec!=none][vcodec!=none][height<=480]/18/best[ext=mp4]"
    template = url_template if url_template is not None else mirrors.video_url_template()
    gone = _GONE + (("http error 404", "http error 410") if template else ())

    def fetch_one(youtube_id: str, start_s: float, out_stem: Path) -> tuple[Path, float]:
        options = {
            "format": selector, "outtmpl": f"{out_stem}.%(ext)s", "quiet": quiet, "no_warnings": quiet,
            "noprogress": True, "retries": 3, "overwrites": True,
        }
        if cookiefile:
            options["cookiefile"] = cookiefile
        if cut:
            options["download_ranges"] = download_range_func(None, [(start_s, start_s + CLIP_SECONDS)])
            options["force_keyframes_at_cuts"] = True
        try:
            with yt_dlp.YoutubeDL(options) as ydl:
                url = template.format(youtube_id=youtube_id) if template else \
                    f"https://www.youtube.com/watch?v={youtube_id}"
                info = ydl.extract_info(url, download=True)
        except yt_dlp.utils.DownloadError as err:
            if any(phrase in str(err).lower() for phrase in gone):
                raise VideoUnavailable(str(err)) from err
            raise
        path = Path(f"{out_stem}.{info.get('ext', 'mp4')}")
        return path, (0.0 if cut else float(start_s))

    return fetch_one


def download_videos(root: str | os.PathLike[str], manifest: pd.DataFrame, *, fetch: Fetcher | None = None,
                    retry_unavailable: bool = False, shard: tuple[int, int] | None = None,
                    limit: int | None = None, progress: bool = True) -> dict[str, int]:
    """Download the videos of ``manifest`` into ``root/video/{clip_id}.mp4``; resumable.

    Args:
        fetch: ``fetch(youtube_id, start_s, out_stem) -> (path, clip_start_s)``; default
            :func:`youtube_fetcher`.  Raise :class:`VideoUnavailable` for videos that are gone.
        retry_unavailable: try again the videos logged as unavailable.
        shard: ``(i, n)``: this worker takes every n-th clip.  limit: at most this many clips.

    Returns:
        counts: ``{"ok", "skipped", "unavailable", "error", "known_unavailable"}``.
    """
    from tqdm.auto import tqdm

    root = Path(root)
    log = read_log(root, "download")
    log_file = _log_path(root, "download", shard or (0, 1))
    counts = dict.fromkeys(("ok", "skipped", "unavailable", "error", "known_unavailable"), 0)
    rows = _select(manifest, shard, limit)
    for row in tqdm(rows.itertuples(index=False), total=len(rows), desc="vggsound download", disable=not progress):
        video = Path(row.video_path)
        if video.is_file():
            counts["skipped"] += 1
            continue
        if log.get(row.clip_id, {}).get("status") == "unavailable" and not retry_unavailable:
            counts["known_unavailable"] += 1
            continue
        video.parent.mkdir(parents=True, exist_ok=True)
        fetch = fetch or youtube_fetcher()  # built on first need: yt-dlp is only imported to download
        record = {"clip_id": row.clip_id, "youtube_id": row.youtube_id}
        try:
            path, offset = fetch(row.youtube_id, float(row.start_s), video.with_suffix(""))
            path = Path(path)
            if path != video:  # e.g. yt-dlp chose another container: keep one name per clip
                os.replace(path, video)
            record.update(status="ok", video_start_s=float(offset))
        except VideoUnavailable as err:
            record.update(status="unavailable", message=str(err)[:300])
        except Exception as err:  # network trouble, throttling, ...: retried on the next run
            record.update(status="error", message=f"{type(err).__name__}: {err}"[:300])
        counts[record["status"]] += 1
        record["t"] = time.time()
        _append(log_file, record)
    return counts


# --------------------------------------------------------------------------- extraction


def _fps_tag(fps: float) -> str:
    return f"{fps:g}fps"


def extract_media(root: str | os.PathLike[str], manifest: pd.DataFrame, *, fps: float = DEFAULT_FPS,
                  shard: tuple[int, int] | None = None, limit: int | None = None, sample_rate: int = 16000,
                  max_side: int | None = None, progress: bool = True) -> dict[str, int]:
    """Extract 16 kHz mono audio and frames at ``fps`` for every downloaded video; resumable.

    A clip is done when its wav and frames folder exist (or its frames and a ``no_audio`` log
    record); done clips are skipped.  Results go to ``logs/extract-{fps}fps-{i}of{n}.jsonl``.

    Returns:
        counts: ``{"ok", "skipped", "no_video_file", "no_audio", "short", "error"}`` (``short``:
        extracted but shorter than 10 s -- still written, reported by :meth:`VGGSoundDataset.validate`).
    """
    from tqdm.auto import tqdm

    root = Path(root)
    kind = f"extract-{_fps_tag(fps)}"
    log = read_log(root, kind)
    log_file = _log_path(root, kind, shard or (0, 1))
    counts = dict.fromkeys(("ok", "skipped", "no_video_file", "no_audio", "short", "error"), 0)
    rows = _select(manifest, shard, limit)
    for row in tqdm(rows.itertuples(index=False), total=len(rows), desc=f"vggsound extract {fps:g} fps",
                    disable=not progress):
        audio, frames, video = Path(row.audio_path), _frames_dir(root, row.clip_id, fps), Path(row.video_path)
        if frames.is_dir() and (audio.is_file() or log.get(row.clip_id, {}).get("status") == "no_audio"):
            counts["skipped"] += 1
            continue
        if not video.is_file():
            counts["no_video_file"] += 1
            continue
        record = {"clip_id": row.clip_id}
        try:
            result = extract_clip(video, audio, frames, start_s=float(row.video_start_s), duration_s=CLIP_SECONDS,
                                  fps=fps, sample_rate=sample_rate, max_side=max_side)
            record.update(status=result.status, n_samples=result.n_samples, n_frames=result.n_frames,
                          duration_s=result.duration_s)
            key = "no_audio" if result.status == "no_audio" else (
                "short" if result.n_samples < int(CLIP_SECONDS * sample_rate) else "ok")
            counts[key] += 1
        except (ValueError, OSError) as err:
            record.update(status="error", message=f"{type(err).__name__}: {err}"[:300])
            counts["error"] += 1
        record["t"] = time.time()
        _append(log_file, record)
    return counts


def _frames_dir(root: Path, clip_id: str, fps: float) -> Path:
    return root / f"frames_{_fps_tag(fps)}" / clip_id


# --------------------------------------------------------------------------- the dataset


class VGGSoundDataset(Dataset):
    name = "vggsound"
    capabilities = Capabilities(frames=True)  # once prepare(videos=True, extract=True) has run
    license = "CC BY 4.0 (annotations); videos: copyright of their owners"
    description = "VGGSound: ~200 k 10 s YouTube clips, 309 classes (train / valid = last 500 train ids / test)"
    min_duration_s = CLIP_SECONDS
    remotes = (RemoteFile(url=CSV_URL, filename="vggsound.csv", kind="file"),)  # no published checksum: TOFU

    def build_manifest(self, root: Path, *, fps: float = DEFAULT_FPS, n_valid: int = N_VALID) -> pd.DataFrame:
        """Every clip of ``vggsound.csv`` with the paths its files have (or will have) on disk."""
        df = assign_validation(read_vggsound_csv(root / "vggsound.csv"), n_valid)
        log = read_log(root, "download")
        df["audio_path"] = [str(root / "audio" / f"{c}.wav") for c in df["clip_id"]]
        df["video_path"] = [str(root / "video" / f"{c}.mp4") for c in df["clip_id"]]
        # where the clip starts inside the video file: 0 for pre-cut clips, the start time for whole videos
        df["video_start_s"] = [float(log.get(c, {}).get("video_start_s", 0.0)) for c in df["clip_id"]]
        df["frames_dir"] = [str(_frames_dir(root, c, fps)) for c in df["clip_id"]]
        df["fps"] = float(fps)
        return df[["clip_id", "audio_path", "label", "split", "youtube_id", "start_s", "video_path",
                   "video_start_s", "frames_dir", "fps"]]

    def prepare(self, data_home: Path, *, download: bool = True, videos: bool = False, extract: bool = False,
                fps: float = DEFAULT_FPS, n_valid: int = N_VALID, shard: tuple[int, int] | None = None,
                limit: int | None = None, retry_unavailable: bool = False, fetch_video: Fetcher | None = None,
                progress: bool = True) -> Path:
        """Get ``vggsound.csv`` (verified), optionally download and extract videos, write the manifest.

        Args:
            download: allow network access for the csv (and videos).
            videos: run :func:`download_videos` (yt-dlp) for this shard.
            extract: run :func:`extract_media` (audio + frames at ``fps``) for this shard.
            fps: frame rate of the frames the manifest points to (1 default, 30 as in the paper).
            n_valid: size of the validation split carved from the end of the sorted train ids.
            shard, limit, retry_unavailable, fetch_video: passed to the downloader / extractor.

        The manifest lists every clip of the csv; files not downloaded yet are reported as missing
        by :meth:`validate`.  Re-running is cheap and gives the same manifest for the same files.
        """
        root = self.root(Path(data_home))
        root.mkdir(parents=True, exist_ok=True)
        fetch(self.remotes[0], root, dataset=self.name, download=download, registry_dir=root, progress=progress)
        df = self.build_manifest(root, fps=fps, n_valid=n_valid)
        if videos:
            download_videos(root, df, fetch=fetch_video, retry_unavailable=retry_unavailable, shard=shard,
                            limit=limit, progress=progress)
            df = self.build_manifest(root, fps=fps, n_valid=n_valid)  # picks up video start offsets
        if extract:
            extract_media(root, df, fps=fps, shard=shard, limit=limit, progress=progress)
        write_manifest(df, root / MANIFEST_FILE, root=root)
        return root

    def validate(self, data_home: Path, *, check_hashes: bool = False, decode: bool = False) -> ValidationReport:
        """Per clip: the extracted wav if present (corrupt / shorter than 10 s), else the video
        (missing; present but undecodable or without audio = corrupt; present and not extracted yet
        = its wav is listed as missing).  ``check_hashes`` is accepted for interface compatibility
        (the manifest records no hashes: extracted files are outputs, not downloads)."""
        from .video import require_av

        manifest = self.load_manifest(data_home)
        report = ValidationReport(self.name, len(manifest))
        fps = float(manifest["fps"].iloc[0]) if len(manifest) else DEFAULT_FPS
        extracted = read_log(self.root(Path(data_home)), f"extract-{_fps_tag(fps)}")
        for row in manifest.itertuples(index=False):
            if extracted.get(row.clip_id, {}).get("status") == "no_audio":
                report.corrupt.append(row.video_path)  # a muted video: no audio to learn from
            elif Path(row.audio_path).is_file():
                problem = check_audio_file(row.audio_path, self.min_duration_s, decode=decode)
                if problem:
                    getattr(report, problem).append(row.audio_path)
            elif not Path(row.video_path).is_file():
                report.missing.append(row.video_path)
            else:
                av = require_av()
                try:
                    with av.open(row.video_path) as container:
                        ok = bool(container.streams.audio or container.streams.video)
                except Exception:  # any FFmpeg failure means the file is unusable
                    ok = False
                (report.missing if ok else report.corrupt).append(row.audio_path if ok else row.video_path)
        return report


VGGSOUND = VGGSoundDataset()
