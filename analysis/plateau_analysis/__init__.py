"""plateau_analysis: read and analyse ``plateau-campaign`` files (analysis/SCHEMA.md).

Public API (named as xarray's ``open_dataset`` / ``load_dataset``: ``open_*`` is lazy,
``load_*`` reads everything and closes the file; ``**kwargs`` go to ``xarray.open_dataset``)
----------
open_campaign(path, **kwargs), load_campaign(path, **kwargs) -> dict[str, xarray.Dataset]
    Check the schema and open (lazily) or load every group (``K2_M2``, ...);
    ``ds.attrs["kind"]`` is ``"simulation"`` or ``"theory"``. ``load_campaign`` also checks
    the checksums and the finite values of completed runs.
seed_average(ds) -> xarray.Dataset
    Mean, standard error and quantiles over seeds per grid point, and run counts.
plateaus(ds) -> xarray.Dataset
    The plateau (height, start, end, length, escape time) of every run or seed-mean curve;
    the detection rule is documented in :mod:`plateau_analysis.detection`.
plateau_summary(ds) -> xarray.Dataset
    One row per grid point: the seed mean's plateau and statistics of the runs' plateaus.
open_sweep([path, ...]), load_sweep([path, ...]) -> dict[str, xarray.Dataset]
    Several campaign files as one sweep (their settings that are not swept must agree).
as_grid(ds) -> xarray.Dataset; open_grid(path), load_grid(path) -> dict[str, xarray.Dataset]
    The grid as dimensions (eta, N, other swept keys, seed): ``g.eg.sel(eta=0.5)``.
run_outcomes(ds) -> xarray.DataArray
    What became of every run: learned, plateau, failed, diverged (analysis/SCHEMA.md,
    "Outcomes"): the file's ``outcome`` (schema 1.1), or the same rule computed for older files.
specialization(ds) -> xarray.Dataset
    Which student unit learned which teacher unit, and when; the rule (analysis/SCHEMA.md,
    "Specialization") is the engine's, :func:`classify_units` on arrays.

Command line: ``python3 -m plateau_analysis report RESULTS.h5 [--theory THEORY.h5] -o DIR``.
Conventions: Saad & Solla (1995); alpha = examples / N; Q = W W^T, R = W B^T, T = B B^T.
"""

from .campaign import (
    COMPLETED,
    DIVERGED,
    PENDING,
    CampaignError,
    CampaignFileNotFoundError,
    IncompleteCampaignWarning,
    MIXTURE_VARIABLES,
    grid_point_index,
    load_campaign,
    mixture_runs,
    open_campaign,
    read_root_attributes,
    run_coordinates,
    saved_weights,
    swept_coordinates,
    WEIGHT_VARIABLES,
    RECORD_WEIGHT_VARIABLES,
)
from .overlaps import (
    DEAD_FRACTION,
    MARGIN,
    MIN_OVERLAP,
    UNIT_STATES,
    align_students,
    classify_units,
    normalized_overlaps,
    activation_parity,
    sign_symmetric,
    specialization,
    specialization_index,
)
from .outcomes import (OUTCOMES, assess_outcome, count_outcomes, outcome_names, outcome_text,
                       run_outcomes, search_phase)
from .outcomes import FINITE_SET_OUTCOMES, finite_set_outcomes
from .configs import ConfigMismatchError, ConfigMismatchWarning
from .detection import (Plateau, PlateauRule, detect_plateau, plateau_summary, plateaus,
                        rule_for)
from .merge import load_sweep, open_sweep
from .search import escape_ratio, first_fall, search_escapes, search_summary
from .grid import as_grid, grid_dimensions, load_grid, open_grid
from .stats import seed_average
from .tables import format_table, table_rows, write_csv

__all__ = [
    "escape_ratio", "first_fall", "search_escapes", "search_summary",
    "COMPLETED", "DIVERGED", "PENDING", "MIXTURE_VARIABLES", "mixture_runs",
    "WEIGHT_VARIABLES", "RECORD_WEIGHT_VARIABLES", "saved_weights",
    "FINITE_SET_OUTCOMES", "finite_set_outcomes", "sign_symmetric", "activation_parity",
    "DEAD_FRACTION", "MARGIN", "MIN_OVERLAP", "OUTCOMES", "UNIT_STATES",
    "CampaignError", "CampaignFileNotFoundError", "ConfigMismatchError",
    "ConfigMismatchWarning", "IncompleteCampaignWarning",
    "Plateau", "PlateauRule",
    "align_students", "as_grid", "assess_outcome", "classify_units", "count_outcomes",
    "detect_plateau", "format_table",
    "grid_dimensions", "grid_point_index", "load_campaign", "load_grid", "load_sweep",
    "normalized_overlaps", "open_campaign", "open_grid", "open_sweep", "outcome_names",
    "outcome_text", "search_phase", "plateau_summary", "plateaus", "read_root_attributes",
    "rule_for", "run_outcomes",
    "run_coordinates", "seed_average", "specialization",
    "specialization_index", "swept_coordinates", "table_rows", "write_csv",
]
