"""Command line: ``python3 -m plateau_analysis report RESULTS.h5 [--theory T.h5] -o DIR`` and
``python3 -m plateau_analysis summary RESULTS.h5 [--long]``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings

from .campaign import CampaignError, IncompleteCampaignWarning, read_root_attributes
from .configs import ConfigMismatchWarning
from .detection import PlateauRule, rule_for
from .merge import SharedStreamsWarning
from .report import report
from .summary import summarize

PROGRAM = "plateau_analysis"


def _yes_no(text: str) -> bool:
    """A boolean option value: yes/no, true/false, 1/0."""
    value = text.strip().lower()
    if value in ("yes", "true", "1"):
        return True
    if value in ("no", "false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")


def _shown(default) -> str:
    if isinstance(default, bool):
        return "yes" if default else "no"
    return f"{default:g}"


def main(argv=None) -> int:
    """Command line: ``python3 -m plateau_analysis report RESULTS.h5 [--theory T.h5] -o DIR``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for a bad file or bad arguments, 1 for other failures (e.g. an
        unwritable output directory).
    """
    parser = argparse.ArgumentParser(
        prog=f"python3 -m {PROGRAM}",
        description="Analysis of plateau campaign files (analysis/SCHEMA.md).")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser(
        "report", help="figures (PNG, PDF) and plateau tables (CSV) of a campaign file",
        description="Figures of eps_g(alpha) with the seed spread, overlaps R and Q per student "
        "unit, escape time against swept parameters, and a CSV table of plateau heights, "
        "lengths and escape times per grid point.")
    rep.add_argument("results", nargs="+",
                     help="campaign file(s) written by 'plateau run -o'; several are read as "
                     "one sweep when their settings that are not swept agree")
    rep.add_argument("--theory", nargs="+", action="extend",
                     help="theory file(s) ('plateau ode'), drawn as dashed lines")
    rep.add_argument("--force-theory", action="store_true",
                     help="overlay a theory file whose configuration differs from the results' "
                     "(default: an error naming the differing keys)")
    rep.add_argument("-o", "--out", required=True, help="output directory")
    rep.add_argument("--band", choices=("quantile", "se"), default="quantile",
                     help="seed band: 10-90%% quantiles (default) or mean +- standard error")
    rep.add_argument("--formats", default="png,pdf",
                     help="comma-separated figure formats (default: png,pdf)")
    rep.add_argument("--alpha-range", metavar="LO,HI",
                     help="alpha range of the linear-axis eps_g figure (default: all)")
    rep.add_argument("--fixed-point-eg", type=float, metavar="EG",
                     help="draw this fixed-point eps_g as a horizontal line (eg_linear_G); the "
                     "theory's plateau height is drawn anyway when --theory is given")
    rep.add_argument("--all-points", action="store_true",
                     help="one overlaps figure per grid point however many there are "
                     "(default: only up to 4 points; the per-sweep figures always)")
    rep.add_argument("--examples-axis", action="store_true",
                     help="a top axis in examples/N on the eps_g and train/test figures when an "
                     "update uses more than one example (batch > 1 or batch = all: alpha counts "
                     "updates/N)")
    _add_rule_arguments(rep)
    summ = sub.add_parser(
        "summary", help="one line per grid point: outcomes, plateau height, escape time, eps_t",
        description="One line per grid point: the runs' outcomes, the plateau height of the "
        "seed mean, the escape time (mean ± SE over the runs that escaped) and the training "
        "error at the end where the file has one. Files that differ only in --seed pool as "
        "more seeds of the same grid points.")
    summ.add_argument("results", nargs="+", help="campaign file(s) written by 'plateau run -o'")
    summ.add_argument("--long", action="store_true",
                      help="the full table (every column of the report's plateaus.csv)")
    _add_rule_arguments(summ)
    args = parser.parse_args(argv)
    rule_overrides = {f.name: getattr(args, f"rule_{f.name}")
                      for f in dataclasses.fields(PlateauRule)}
    if args.command == "summary":
        return _run(lambda: summarize(args.results, long=args.long, rule=rule_for(
            read_root_attributes(args.results[0]).get("config", ""), **rule_overrides)))
    alpha_range = None
    if args.alpha_range:
        try:
            lo, hi = (float(x) for x in args.alpha_range.split(","))
        except ValueError:
            parser.error(f"--alpha-range: expected LO,HI, got {args.alpha_range!r}")
        alpha_range = (lo, hi)
    return _run(lambda: report(
        args.results, args.out, args.theory, band=args.band, force_theory=args.force_theory,
        rule_overrides=rule_overrides, alpha_range=alpha_range,
        fixed_point_eg=args.fixed_point_eg, all_points=args.all_points,
        examples_axis=args.examples_axis,
        formats=[f.strip() for f in args.formats.split(",") if f.strip()]))


def _add_rule_arguments(parser) -> None:
    """--plateau-FIELD for every field of PlateauRule."""
    rules = parser.add_argument_group(
        "plateau detection", "parameters of the plateau rule (analysis/README.md; default: "
        "the rule's defaults, for ReLU its ReLU defaults)")
    for field in dataclasses.fields(PlateauRule):
        default = field.default
        kind = _yes_no if isinstance(default, bool) else type(default)
        rules.add_argument(f"--plateau-{field.name.replace('_', '-')}",
                           dest=f"rule_{field.name}", type=kind, default=None,
                           metavar="yes|no" if kind is _yes_no else kind.__name__.upper(),
                           help=f"PlateauRule.{field.name} (default {_shown(default)})")


def _run(action) -> int:
    """Run ``action()`` with warnings as one line on stderr; exit status 0, 2 or 1."""

    def show(message, category, *_args, **_kwargs):
        # Pending runs: one line on stderr; numerical warnings of NaN data are not news.
        if issubclass(category, (IncompleteCampaignWarning, ConfigMismatchWarning,
                                 SharedStreamsWarning)):
            print(f"{PROGRAM}: warning: {message}", file=sys.stderr, flush=True)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = show
            action()
    except CampaignError as exc:
        print(f"{PROGRAM}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{PROGRAM}: error: {exc}", file=sys.stderr)
        return 1
    return 0
