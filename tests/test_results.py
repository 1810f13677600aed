"""results/summary.csv: schema, paper values, declared tolerances, status logic, merging, markdown."""

from __future__ import annotations

import pandas as pd
import pytest

from w2clib.evaluate.results import (
    COLUMNS,
    PAPER_VALUES,
    decide_status,
    read_summary,
    render_markdown,
    result_row,
    write_summary,
)


def row(**kw):
    base = dict(
        task="classification",
        dataset="esc50",
        protocol="5-fold CV, MLP probe",
        metric="accuracy",
        model="wav2clip",
        values=[0.85, 0.87],
        profile="paper",
        compare_with_paper=True,
        chance=0.02,
        commit="abc",
    )
    base.update(kw)
    return result_row(**base)


def test_row_has_exactly_the_summary_columns_in_percent():
    r = row()
    assert list(r) == COLUMNS
    assert r["ours_mean"] == pytest.approx(86.0) and r["ours_std"] == pytest.approx(1.0)
    assert r["chance"] == pytest.approx(2.0) and r["n_seeds"] == 2
    assert r["paper"] == 85.95 and r["paper_ref"] == "Table: classification"
    assert r["tolerance"] == 3.0  # declared in w2clib.evaluate.results.TOLERANCES, not after the run
    assert r["status"] == "match"


def test_every_paper_value_has_a_source_and_unknown_cells_stay_empty():
    assert all(v.source for v in PAPER_VALUES.values())
    assert PAPER_VALUES[("zero-shot", "esc50", "accuracy")].value == 41.4
    fsd = PAPER_VALUES[("zero-shot", "fsd50k", "mAP")]  # multi-label zero-shot, MS-CLAP's Table 1
    assert fsd.value == 3.02 and "2206.04769" in fsd.source
    assert row(dataset="tau2020")["paper"] is None  # TAU: unknown
    assert row(dataset="tau2020")["status"] == "not_comparable"
    assert row(model="random_init")["paper"] is None  # the paper value belongs to Wav2CLIP only


@pytest.mark.parametrize(
    "ours, std, expected",
    [
        (86.2, 0.1, "match"),  # within 0.5 points
        (87.5, 2.0, "match"),  # within our own spread
        (88.0, 0.3, "within_tolerance"),  # 2.05 points, tolerance 3
        (80.0, 0.3, "mismatch"),  # 5.95 points
        (95.0, 20.0, "mismatch"),
    ],  # a huge spread never widens beyond the declared tolerance
)
def test_status_compares_against_the_declared_tolerance(ours, std, expected):
    assert decide_status(85.95, ours, std, 3.0) == expected


def test_rows_of_a_profile_that_does_not_compare_with_the_paper_are_never_comparable():
    r = row(profile="mini", compare_with_paper=False)
    assert r["status"] == "not_comparable" and r["paper"] is None and r["paper_ref"] == "embedded"
    assert decide_status(None, 85.95, 0.0, 3.0) == "not_comparable"


def test_comparison_follows_the_field_not_the_profile_name():
    assert row(profile="my-copy-of-paper")["status"] == "match"
    assert row(profile="paper", compare_with_paper=False)["status"] == "not_comparable"


def test_summary_rows_merge_by_key_and_reruns_replace_their_rows(tmp_path):
    path = tmp_path / "results" / "summary.csv"
    write_summary([row(), row(task="zero-shot", protocol="all clips", values=0.40)], path)
    merged = write_summary(
        [row(values=[0.80]), row(dataset="urbansound8k", protocol="10-fold CV")], path
    )
    assert len(merged) == 3
    table = read_summary(path)
    assert list(table.columns) == COLUMNS
    esc = table[(table["dataset"] == "esc50") & (table["task"] == "classification")].iloc[0]
    assert esc["ours_mean"] == pytest.approx(80.0) and esc["status"] == "mismatch"
    assert not list(tmp_path.glob("results/.summary.csv.*.tmp"))  # no temporary file left


def test_invalid_rows_are_rejected_with_the_allowed_values():
    with pytest.raises(ValueError, match="task"):
        row(task="classify")
    bad = pd.DataFrame([dict(row(), status="great")])
    with pytest.raises(ValueError, match="status"):
        write_summary(bad, "unused.csv")


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of every markdown table line of ``text`` (padding stripped; separator lines left out)."""
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    return [[c.strip() for c in line[1:-1].split("|")] for line in lines if set(line) - set("|-: ")]


def test_markdown_table_shows_paper_and_ours():
    text = render_markdown(pd.DataFrame([row(), row(profile="mini")]), profile="paper")
    header, *rows = markdown_rows(text)
    assert header[:2] == ["task", "dataset"] and len(rows) == 1 and len(text.strip().splitlines()) == 3
    assert rows[0][-5:] == ["85.95", "86.00 ± 1.00", "2", "2.00", "match"]


def test_writing_leaves_only_the_csv_in_the_results_folder(tmp_path):
    write_summary([row()], tmp_path / "summary.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.csv"]


def test_a_rerun_replaces_its_skipped_row_instead_of_adding_a_second(tmp_path):
    from w2clib.evaluate.results import skipped_row

    path = tmp_path / "summary.csv"
    row = skipped_row(task="classification", model="openl3", reason="weights missing", profile="p", commit="c")
    write_summary([row], path)
    merged = write_summary([{**row, "note": "weights still missing"}], path)  # protocol "" read back from CSV
    assert len(merged) == 1 and merged["note"].iloc[0] == "weights still missing"
