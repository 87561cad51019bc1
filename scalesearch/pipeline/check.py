"""``scalesearch check RUN_DIR``: the fidelity check. The networks the confirm stage ranked (its top networks and
every reference) are trained again for N× the proxy's epochs, with the run's own data, preset and paired seeds, and
Kendall τ between the two rankings is written into the run folder (check.json, check.csv) and its report.

Resumable like a run: every finished training is kept in check.csv, and a check run again trains only what is
missing. The run folder's lock keeps a run and a check (or two checks) from writing it at once.
"""
from __future__ import annotations

from pathlib import Path

from scalesearch.foundation.errors import InputError
from scalesearch.foundation.run_files import CHECK_TABLE, CONFIG_FILE, RUN_FILE, is_run
from scalesearch.runs.check_files import write_fidelity
from scalesearch.runs.learning_curves import CHECK
from scalesearch.verdict.fidelity import CheckedNetwork, Fidelity, rank_agreement


def check(run_dir: str | Path, *, epochs_factor: int = 4, seeds: int = 1, progress=None,
          command: str | None = None) -> Fidelity:
    from scalesearch.pipeline.folder_claim import claim_folder, refuse_if_in_use
    from scalesearch.pipeline.objectives import OBJECTIVES
    from scalesearch.pipeline.options import options_from, validate
    from scalesearch.pipeline.prepare import prepare
    from scalesearch.pipeline.ray_runner import run_trials
    from scalesearch.pipeline.ray_session import check_resources, signals_held, slots, start_ray, stop_ray
    from scalesearch.foundation.table import load_table
    from scalesearch.study.planned import PlannedTrainings

    folder = Path(run_dir)
    if not folder.is_dir() or not is_run(folder) or not (folder / CONFIG_FILE).exists():
        raise InputError(f"{folder} is not a scalesearch run folder (it has no {RUN_FILE} and {CONFIG_FILE})")
    if epochs_factor < 1:
        raise InputError(f"--epochs-factor must be at least 1, got {epochs_factor}")
    if seeds < 1:
        raise InputError(f"--seeds must be at least 1, got {seeds}")
    refuse_if_in_use(folder)
    options = validate(options_from({"resume": str(folder)}))
    table = load_table(folder)
    prepared = prepare(options)
    resources = prepared.resources
    proxy_epochs = int(prepared.trial_settings["epochs"])
    settings = dict(prepared.trial_settings, epochs=proxy_epochs * epochs_factor)
    seed_list = list(range(options.seed, options.seed + seeds))
    plan, names, proxy = _plan(table, options.confirm, prepared.base, seed_list, int(settings["epochs"]))
    claim = claim_folder(folder, resume=True, force=False, command=command)
    session = None
    try:
        stage = PlannedTrainings(folder / CHECK_TABLE, plan)
        session = start_ray(resources, options.verbose, declare_gpus=prepared.declared_gpus)
        check_resources(resources)
        if progress:
            progress.begin_stage("check", stage, _cost(stage, table, epochs_factor, slots(resources)))
        status = "interrupted"
        try:
            run_trials(stage, prepared.dataset, OBJECTIVES[options.objective], settings, resources, folder,
                       on_event=progress.stage_event if progress else None, name="ray-check", stage=CHECK,
                       tensorboard=options.tensorboard)
            status = "complete"
        finally:
            with signals_held():  # check.json and the report, each whole, whatever a second signal says
                fidelity = _fidelity(stage.table(), names, proxy, epochs_factor, proxy_epochs, seed_list, status)
                write_fidelity(folder, fidelity)
                from scalesearch.report.write import write_report

                write_report(folder)
    except KeyboardInterrupt as interruption:  # a Ctrl-C or a SIGTERM: the CLI's one line says what next
        again = command or f"scalesearch check {folder}"
        interruption.next_step = f"finished trainings are kept in {CHECK_TABLE}. Continue with: {again}"
        raise
    finally:
        with signals_held():
            stop_ray(session)
            claim.release()
    return fidelity


def _plan(table, confirm: int, base, seeds: list[int], epochs: int):
    """The trainings of the check, each network's name, and its proxy mean (architecture → Estimate): the confirm
    stage's networks (``confirm``: its count of top networks), rebuilt from ``base``."""
    from scalesearch.study.confirm import entries
    from scalesearch.study.planned import Planned
    from scalesearch.study.rebuild import rebuild
    from scalesearch.verdict.verdict import networks

    chosen, _ = entries(table, confirm)
    if len(chosen) < 2:
        raise InputError(f"the run has {len(chosen)} completed network(s) to rank; the check needs at least 2 "
                         "(resume the run first if it was stopped)")
    by_architecture = {network.architecture: network for network in networks(table)}
    plan, names, proxy = [], {}, {}
    for architecture in chosen:
        network = by_architecture[architecture]
        names[architecture], proxy[architecture] = network.name, network.accuracy
        row = table[table["architecture"] == architecture].iloc[0]
        spec = rebuild(base, row)
        labels = {"architecture": architecture, "network": network.name, "reference": network.label,
                  "flops": int(row["flops"]), "epochs": epochs, "proxy_accuracy": network.accuracy.mean}
        plan += [Planned(f"{architecture}:epochs{epochs}:seed{seed}", spec.to_dict(), seed, labels,
                         f"{network.name} at {epochs} epochs") for seed in seeds]
    return plan, names, proxy


def _fidelity(results, names: dict, proxy: dict, factor: int, proxy_epochs: int, seeds: list[int], status: str) -> Fidelity:
    from scalesearch.verdict.statistics import estimate

    done = results[(results["status"] == "complete") & results["accuracy"].notna()]
    longer = {architecture: estimate(group["accuracy"]) for architecture, group in done.groupby("architecture")}
    tau, p_value, n = rank_agreement({key: value.mean for key, value in proxy.items()},
                                     {key: value.mean for key, value in longer.items()})
    checked = [CheckedNetwork(architecture, names[architecture], proxy[architecture].mean, proxy[architecture].n,
                              longer[architecture].mean if architecture in longer else None,
                              longer[architecture].n if architecture in longer else 0)
               for architecture in names]
    return Fidelity(factor, proxy_epochs, proxy_epochs * factor, seeds, checked, tau, p_value, n, status=status)


def _cost(stage, table, factor: int, parallel: int) -> str:
    """What the check will train and about how long, from the run's measured seconds per FLOP and epoch."""
    from scalesearch.study.planned import estimated_seconds

    pending = stage.pending()
    networks = len({planned.labels["architecture"] for planned in stage.plan})
    seconds = estimated_seconds(pending, table)
    cost = (f", about {seconds * factor / parallel / 60:.1f} min on {parallel} slot(s)" if seconds is not None else "")
    return (f"{networks} networks at {factor}× the proxy's epochs: {len(pending)} trainings to go "
            f"({len(stage.plan) - len(pending)} already done){cost}")
