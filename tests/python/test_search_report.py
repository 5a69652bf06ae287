"""The report's words for a search-phase model (issue 25; analysis/SCHEMA.md, "Outcomes of a
search-phase model"): a staircase y1 + y1*y2 learned on the sphere (K = 2, M = 2, learned v)
through `plateau run`. The titles name the target, not a teacher activation that plays no part
(g* = erf was printed); the eps_g legend gives the outcome words (learned / escaped /
searching), not the plateau rule's count of "escaped" runs, which said 2 where the outcome said
3; the per-unit overlaps figure names R_jn = m_jn and Q_jj = 1 on the sphere, gives the outcomes
in its title and wraps it (it ran off the figure)."""
import io

import numpy as np
import pytest

from conftest import run_plateau

import plateau_analysis as pa

ARGS = ["--N", "300", "--K", "2", "--M", "2", "--activation", "poly:0:1:0.5", "--learn-v",
        "true", "--constraint", "sphere", "--target", "y1 + y1*y2", "--eta", "0.1",
        "--alpha-max", "800", "--alpha-min", "1", "--records", "40", "--seeds", "8"]


@pytest.fixture(scope="module")
def staircase(plateau_program, tmp_path_factory):
    path = tmp_path_factory.mktemp("stairs") / "stairs.h5"
    run_plateau(plateau_program, path, *ARGS)
    return path


def test_the_staircase_runs_have_search_phase_outcomes(staircase):
    ds = pa.load_campaign(staircase)["K2_M2"]
    assert pa.search_phase(ds).all()
    codes = pa.run_outcomes(ds).values
    words = pa.outcome_names(codes)
    assert "plateau" not in words
    assert set(words) <= {"learned", "escaped", "searching"}
    # both steps in some runs (learned), only the first in others (escaped, eps_g ~ 0.53)
    assert words.count("learned") >= 2 and words.count("escaped") >= 2
    eg = ds["eg"].values[:, -1]
    learned = codes == pa.OUTCOMES.index("learned")
    assert (eg[learned] < 0.1).all() and (eg[~learned] > 0.4).all()
    np.testing.assert_array_equal(codes, pa.run_outcomes(ds, recompute=True).values)


def test_figures_say_the_search_phase_words(staircase):
    from plateau_analysis.figures import plot_eg, plot_overlaps, pyplot
    from plateau_analysis.standard import plot_normalized_overlaps

    ds = pa.load_campaign(staircase)["K2_M2"]
    text = pa.outcome_text(pa.run_outcomes(ds).values)  # "learned 5, escaped 3 of 8"
    avg = pa.seed_average(ds, align=True)
    summary = pa.plateau_summary(ds, averaged=avg)
    fig = plot_eg(ds, avg, summary)
    ax = fig.axes[0]
    title = ax.get_title().replace("\n", " ")
    assert "target = y1 + y1*y2" in title and "g* =" not in title and "v* =" not in title
    assert "constraint = sphere" in title
    labels = [line.get_label() for line in ax.get_lines() if line.get_linewidth() == 2]
    assert len(labels) == 1 and labels[0].endswith(f"({text})")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert not any("escape: ε_g" in t or "detected plateau" in t for t in legend)
    pyplot().close(fig)

    fig = plot_overlaps(ds, avg, summary, 0)
    suptitle = fig._suptitle.get_text()
    assert f"outcomes: {text}" in suptitle.replace("\n", " ")
    assert max(len(line) for line in suptitle.splitlines()) <= fig.get_figwidth() * 8
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "R_j2 = w_j · B_2 = m_j2" in legend and "Q_jj = |w_j|² = 1 (sphere)" in legend
    pyplot().close(fig)

    fig = plot_normalized_overlaps(ds, avg)  # r_jn per unit: the title names the target
    titles = [fig._suptitle.get_text() if fig._suptitle else ""] + [a.get_title() for a in fig.axes]
    assert any("target = y1 + y1*y2" in t.replace("\n", " ") for t in titles)
    assert not any("g* =" in t for t in titles)
    pyplot().close(fig)


def test_report_table_explains_the_words(staircase, tmp_path):
    from plateau_analysis.report import report

    out = io.StringIO()
    report(staircase, tmp_path, formats=("png",), out=out)
    text = out.getvalue()
    assert "searching = eps_g still within 1 % of its start" in text
    row = [line for line in text.splitlines() if line.startswith("K2_M2")]
    assert len(row) == 1 and "plateau" not in row[0].split("  ")[-1]
    assert (tmp_path / "overlaps_K2_M2_p0.png").exists()
