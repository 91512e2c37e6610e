"""The report's "Search" section for an experiment folder with a study (``search.db``).

It shows the best trial with its spread over seeds and whether the permutation test tells it from
the runner-up trial (as ``summary.md`` does), the best trials side by side, the Pareto front for
several objectives, fANOVA parameter importances and the search's plots from ``plots/``. The
study is only read: nothing in the experiment folder changes.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topics.errors import TopicsError
from topics.experiment.grid import load_experiment_config
from topics.experiment.results import STUDY_FILE, chosen_trial, compare_trials, read_runs_table
from topics.experiment.search_plots import HISTORY_PNG, IMPORTANCES_PNG, PARETO_PNG, param_importances
from topics.experiment.statistics import format_number
from topics.experiment.study import objectives
from topics.reading.figures import png_data_uri

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

#: trials listed in the section's table, best first
SHOWN_TRIALS = 10
PLOT_CAPTIONS = {
    HISTORY_PNG: "optimisation history: each trial's mean over seeds, pruned trials' first seeds, the best so far",
    IMPORTANCES_PNG: "parameter importances (fANOVA)",
    PARETO_PNG: "Pareto front, the chosen trade-off starred",
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _load_study(path: Path, name: str) -> optuna.Study:
    import optuna

    return optuna.load_study(study_name=name, storage=f"sqlite:///{path.resolve()}")


def search_section(folder: Path) -> str:
    """The HTML of ``folder``'s search, headed "Search" (``id="search"``); "" without ``search.db``."""
    folder = Path(folder)
    path = folder / STUDY_FILE
    if not path.is_file():
        return ""
    parts = ['<h2 id="search">Search</h2>']
    try:
        config = load_experiment_config(folder / "experiment.toml")
        if config.search is None:
            return "\n".join([*parts, f'<p class="note">{_e(path)}: the experiment file has no [search] section.</p>'])
        study = _load_study(path, config.name)
    except (TopicsError, KeyError, OSError, ValueError) as error:
        return "\n".join([*parts, f'<p class="note">{_e(path)}: cannot read the study ({_e(error)}).</p>'])
    except Exception as error:  # sqlalchemy's errors: a locked or corrupt database
        return "\n".join([*parts, f'<p class="note">{_e(path)}: cannot read the study ({type(error).__name__}).</p>'])
    search, measures = config.search, objectives(config)
    states = [t.state.name.lower() for t in study.get_trials(deepcopy=False)]
    parts.append(
        f'<p class="meta">sampler {_e(search.sampler)} (seed {search.seed}) &middot; objective {_e(", ".join(measures))} '
        f"&middot; {search.seeds_per_trial} seeds per trial &middot; {states.count('complete')} complete, "
        f"{states.count('pruned')} pruned, {states.count('fail')} failed trials &middot; study in "
        f"<code>{STUDY_FILE}</code> (<code>optuna-dashboard {STUDY_FILE}</code> opens it)</p>"
    )
    table = read_runs_table(folder / "runs.csv") if (folder / "runs.csv").is_file() else None
    compared = compare_trials(table, measures[0]) if table is not None and "trial_state" in table.columns else None
    if compared is None or table is None:
        parts.append('<p class="note">No complete trial yet.</p>')
    else:
        parts.append(_best_trial(study, table, *compared))
    if len(measures) > 1:
        parts.append(_pareto(study, measures))
    parts.append(_importances(study, measures, search.seed))
    plots = [folder / "plots" / name for name in PLOT_CAPTIONS if (folder / "plots" / name).is_file()]
    if plots:
        parts.append(
            '<div class="plots">'
            + "".join(
                f'<figure><img src="{png_data_uri(p.read_bytes())}" alt="{_e(p.stem)}">'
                f"<figcaption>{_e(PLOT_CAPTIONS[p.name])}</figcaption></figure>"
                for p in plots
            )
            + "</div>"
        )
    return "\n".join(parts)


def _best_trial(study: optuna.Study, table: Any, comparison: Any, best_run: str) -> str:
    metric = comparison.metric
    row = comparison.table.iloc[0]
    best = int(row["trial"])
    seeds = table[(table["trial"] == best) & (table["status"] == "complete")][metric]
    params = ", ".join(f"{_e(k)} = {_e(format_number(v))}" for k, v in study.trials[best].params.items())
    lines = [
        f"<h3>Best trial by {_e(metric)}: trial {best}</h3>",
        f"<p>{params}</p>",
        f"<p>{_e(metric)} <b>{format_number(row[f'{metric}_mean'])}</b> ± {format_number(row[f'{metric}_std'])} "
        f"(mean ± sd over {int(row['seeds'])} seeds; 95% CI [{format_number(row[f'{metric}_ci_low'])}, "
        f"{format_number(row[f'{metric}_ci_high'])}]); per seed: {_e(', '.join(format_number(v) for v in seeds))}</p>",
        f"<p>{_e(comparison.verdict())}</p>",
        f'<p class="meta">best run: <code>runs/{_e(best_run)}</code>, the best seed of the best trial</p>',
    ]
    shown = comparison.table.head(SHOWN_TRIALS)
    names = list(study.trials[best].params)
    header = ["trial", *names, "seeds", f"{metric} mean", "sd", "95% CI"]
    rows = []
    for item in shown.itertuples(index=False):
        record = item._asdict()
        trial = int(record["trial"])
        params_of = study.trials[trial].params
        cells = [str(trial), *(format_number(params_of.get(n, "")) for n in names), str(int(record["seeds"]))]
        cells += [
            format_number(record[f"{metric}_mean"]),
            format_number(record[f"{metric}_std"]),
            f"[{format_number(record[f'{metric}_ci_low'])}, {format_number(record[f'{metric}_ci_high'])}]",
        ]
        rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    lines.append(
        f'<div class="scroll"><table><caption>the {len(shown)} best complete trials over seeds</caption><tr>'
        + "".join(f"<th>{_e(h)}</th>" for h in header)
        + "</tr>"
        + "".join(rows)
        + "</table></div>"
    )
    return "\n".join(lines)


def _pareto(study: optuna.Study, measures: list[str]) -> str:
    chosen = chosen_trial(study, measures)
    front = sorted(study.best_trials, key=lambda t: t.number)
    rows = "".join(
        f"<tr><td>{t.number}{' (chosen)' if chosen is not None and t.number == chosen.number else ''}</td>"
        + "".join(f"<td>{format_number(v)}</td>" for v in t.values)
        + "</tr>"
        for t in front
    )
    return (
        f"<h3>Pareto front</h3><p>Trials no other trial beats on every objective (means over seeds); the chosen "
        f"trade-off is the best by {_e(measures[0])} among them.</p><table><tr><th>trial</th>"
        + "".join(f"<th>{_e(m)}</th>" for m in measures)
        + f"</tr>{rows}</table>"
    )


def _importances(study: optuna.Study, measures: list[str], seed: int) -> str:
    importances = param_importances(study, measures, seed)
    heading = f"<h3>Parameter importances for {_e(importances.metric)} (fANOVA)</h3>"
    if not importances.values:
        return heading + f'<p class="note">{_e(importances.note[:1].upper() + importances.note[1:])}.</p>'
    rows = "".join(f"<tr><td>{_e(name)}</td><td>{value:.3f}</td></tr>" for name, value in importances.values.items())
    return heading + f"<table><tr><th>option</th><th>importance</th></tr>{rows}</table>"
