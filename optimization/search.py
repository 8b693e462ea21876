"""`optimize search cwm|igm`: once-for-all width training, a search under a MAC budget, and the
winner as the run's student.

The stages keep their files in ``RUN/search_<module>/``:

1. Once-for-all training (`ofa_stage`): the teacher's network at full width is distilled from
   the teacher with a width configuration drawn at every step (`optimization.ofa`), by the
   losses of `optimization.distill`. ``space.json`` holds the search space and its channel
   ranking, ``supernet.pth`` the shared weights, ``distill_*`` the state ``--resume`` continues.
2. Search (`search_stage`): candidates that fit the MAC budget are ranked by the SSIM of their
   try-on against the teacher's on held-out synthetic pairs, run through the trained network at
   their widths, none retrained; by evolution or at random. ``search.json`` lists every
   candidate scored, best first, and which one took every group's width at one uniform ratio.
3. `extract_stage` prunes the winner out of the network with torch-pruning and saves it as the
   run's student (stage record ``stages/search_<module>.json``). `optimize search` then
   fine-tunes it with the usual distillation and exports it, as `optimize cwm|igm` do.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from optimization.archs.tryon import TorchTryOn
from optimization.checkpoints import load_network, save_checkpoint
from optimization.compress import CompressionRun
from optimization.distill import distill, feature_layers
from optimization.model_stats import count_parameters
from optimization.ofa import (
    MaskedNetwork,
    OnceForAllTryOn,
    SearchSpace,
    WidthConfig,
    build_search_space,
)
from optimization.prune import measure_widths
from optimization.recipes import MODULES, DistillRecipe
from optimization.search_recipes import SearchRecipe

log = logging.getLogger(__name__)

HELDOUT_SEED = 5  # teacher training 1, evaluation 2, compression 3, sensitivity 4
HELDOUT_BATCH = 4


@dataclass(frozen=True)
class Candidate:
    """One width configuration the search scored.

    Attributes:
        config: channels kept per group.
        macs: multiply-accumulates of the network at `config`, one 256x192 try-on.
        score: mean SSIM of its try-on against the teacher's on the held-out pairs.
    """

    config: WidthConfig
    macs: int
    score: float


def search_folder(run: CompressionRun, module: str) -> Path:
    return run.root / f"search_{module}"


def heldout_dir(run: CompressionRun, data: str | Path | None, pairs: int) -> Path:
    """`data`, or `pairs` synthetic pairs (seed 5, none of the training data) made once."""
    if data is not None:
        return Path(data)
    return run.synthetic_pairs("search_heldout", pairs, HELDOUT_SEED)


# ---------------------------------------------------------------------------------------------
# Once-for-all training


def ofa_stage(
    run: CompressionRun,
    module: str,
    recipe: DistillRecipe,
    search: SearchRecipe,
    *,
    resume: bool = False,
    progress: bool = True,
) -> MaskedNetwork:
    """Train the shared weights of every width configuration of one network of the teacher.

    Returns:
        The trained network, masked at its largest configuration, in eval mode.

    Raises:
        ValueError: resuming with other `round_to` or `min_fraction` than the space was built with.
    """
    network = MODULES[module]
    index = 0 if network == "warp" else 1
    folder = search_folder(run, module)
    space_path, weights_path = folder / "space.json", folder / "supernet.pth"
    if resume and space_path.is_file() and weights_path.is_file():
        space = SearchSpace.from_dict(json.loads(space_path.read_text()))
        if (space.round_to, space.min_fraction) != (search.round_to, search.min_fraction):
            raise ValueError(
                f"{space_path} was built with --round-to {space.round_to} and --min-width "
                f"{space.min_fraction:g}; resume with those, or start a new --out"
            )
        model = load_network(weights_path, network)
        log.info("resuming the once-for-all training of %s from %s", module, weights_path)
    else:
        model = run.teacher()[index]
        space = build_search_space(
            model, round_to=search.round_to, min_fraction=search.min_fraction
        )
        folder.mkdir(parents=True, exist_ok=True)
        # A fresh start: the history, state and search of earlier weights would mix with its own
        # (distill appends to the history it finds).
        for stale in ("distill_history.jsonl", "distill_state.pth", "search.json"):
            (folder / stale).unlink(missing_ok=True)
        space_path.write_text(json.dumps(space.to_dict()) + "\n")
        save_checkpoint(weights_path, model, measure_widths(model), epoch=0)
        resume = False  # a new space: any older training state is of other weights
    masked = MaskedNetwork(model, space)
    log.info(
        "%s: %d channel groups, %d of them searchable",
        module,
        len(space.groups),
        len(space.searchable),
    )
    if recipe.epochs > 0:
        teacher_warp, teacher_gen = run.teacher()
        student_pair = list(run.student())
        student_pair[index] = model
        teacher_model = (teacher_warp, teacher_gen)[index]

        def save(epoch: int) -> None:
            save_checkpoint(weights_path, model, measure_widths(model), epoch=epoch)

        distill(
            replace(recipe, train=(network,)),
            TorchTryOn(teacher_warp, teacher_gen),
            OnceForAllTryOn(masked, *student_pair, seed=search.seed),
            folder,
            teacher_layers=feature_layers(teacher_model),
            student_layers=feature_layers(model),
            trainable=[model],
            save=save,
            resume=resume,
            progress=progress,
        )
    masked.configure(space.largest())
    model.eval()
    return masked


# ---------------------------------------------------------------------------------------------
# Search


def search_widths(
    masked: MaskedNetwork,
    budget: int,
    score: Callable[[WidthConfig], float],
    recipe: SearchRecipe,
    *,
    progress: bool = True,
) -> tuple[list[Candidate], Candidate]:
    """Score width configurations of `masked` that cost at most `budget` MACs.

    Every candidate is drawn, mutated or crossed over and then repaired: groups chosen at random
    step down until the configuration fits, then about half the groups, in random order, step
    up where the configuration still fits, so candidates spend most of the budget and still
    differ. The first candidate gives every group the same share of its
    width (the widest uniform configuration that fits), the baseline of the search.

    Args:
        score: higher is better (`HeldOutScore`).

    Returns:
        (every candidate scored, best first; the uniform candidate).

    Raises:
        ValueError: even the narrowest configuration costs more than `budget`.
    """
    from tqdm import tqdm

    space = masked.space
    narrowest = masked.macs(space.smallest())
    if narrowest > budget:
        full = masked.macs(space.largest())
        raise ValueError(
            f"the budget of {budget / 1e6:.1f} MMACs is below the narrowest widths the search "
            f"allows ({narrowest / 1e6:.1f} MMACs, {narrowest / full:.0%} of the full network); "
            "raise --macs or lower --min-width"
        )
    rng = random.Random(recipe.seed)
    draw = _Drawer(masked, budget, rng)
    total = recipe.population * recipe.generations
    scored: dict[tuple[int, ...], Candidate] = {}
    bar = tqdm(total=total, desc=f"search {space.kind}", disable=not progress, leave=False)

    def evaluate(config: WidthConfig) -> Candidate:
        key = space.key(config)
        if key not in scored:
            macs = masked.macs(config)
            if macs > budget:  # the drawer repairs every candidate; a failure here is a bug
                raise RuntimeError(f"candidate over budget: {macs} > {budget}")
            scored[key] = Candidate(config, macs, score(config))
            bar.update()
            bar.set_postfix(best=f"{max(c.score for c in scored.values()):.4f}")
        return scored[key]

    uniform = evaluate(draw.uniform())
    if recipe.strategy == "random":
        for _ in range(total - 1):
            evaluate(draw.random())
    else:
        population = [uniform] + [evaluate(draw.random()) for _ in range(recipe.population - 1)]
        for _ in range(recipe.generations - 1):
            ranked = sorted(population, key=lambda c: -c.score)
            parents = ranked[: max(2, recipe.population // 4)]
            children: dict[tuple[int, ...], WidthConfig] = {}
            for _ in range(20 * recipe.population):
                if len(children) == recipe.population:
                    break
                if rng.random() < 0.5:
                    child = draw.mutated(rng.choice(parents).config, recipe.mutation)
                else:
                    first, second = rng.sample(parents, 2)
                    child = draw.crossed(first.config, second.config)
                key = space.key(child)
                if key not in scored:
                    children[key] = child
            population = ranked + [evaluate(child) for child in children.values()]
            population = sorted(population, key=lambda c: -c.score)[: recipe.population]
    bar.close()
    return sorted(scored.values(), key=lambda c: (-c.score, c.macs)), uniform


class _Drawer:
    """Draws and repairs width configurations that fit a MAC budget."""

    def __init__(self, masked: MaskedNetwork, budget: int, rng: random.Random):
        self.masked, self.budget, self.rng = masked, budget, rng
        self.space = masked.space

    def uniform(self) -> WidthConfig:
        """The widest configuration that keeps about the same share of every group."""
        low, high = 0.0, 1.0
        for _ in range(30):
            middle = (low + high) / 2
            if self.masked.macs(self._at_share(middle)) <= self.budget:
                low = middle
            else:
                high = middle
        return self._repaired(self._at_share(low), fill=False)

    def random(self) -> WidthConfig:
        """Widths around a share drawn at random, each moved by up to one choice."""
        share = self.rng.uniform(self.space.min_fraction, 1.0)
        config = self._at_share(share)
        for group in self.space.searchable:
            position = group.choices.index(config[group.name]) + self.rng.choice((-1, 0, 1))
            config[group.name] = group.choices[min(max(position, 0), len(group.choices) - 1)]
        return self._repaired(config)

    def mutated(self, config: WidthConfig, probability: float) -> WidthConfig:
        child = dict(config)
        for group in self.space.searchable:
            if self.rng.random() < probability:
                child[group.name] = self.rng.choice(group.choices)
        return self._repaired(child)

    def crossed(self, first: WidthConfig, second: WidthConfig) -> WidthConfig:
        child = {name: (first if self.rng.random() < 0.5 else second)[name] for name in first}
        return self._repaired(child)

    def _at_share(self, share: float) -> WidthConfig:
        """Every group at the choice nearest to `share` of its width."""
        return {
            group.name: min(group.choices, key=lambda c: (abs(c - share * group.width), c))
            for group in self.space.groups
        }

    def _repaired(self, config: WidthConfig, *, fill: bool = True) -> WidthConfig:
        config = dict(config)
        groups = list(self.space.searchable)
        while self.masked.macs(config) > self.budget:
            shrinkable = [g for g in groups if config[g.name] > g.choices[0]]
            group = self.rng.choice(shrinkable)
            config[group.name] = group.choices[group.choices.index(config[group.name]) - 1]
        if fill:
            self.rng.shuffle(groups)
            for group in groups[: (len(groups) + 1) // 2]:
                position = group.choices.index(config[group.name])
                if position + 1 < len(group.choices):
                    wider = {**config, group.name: group.choices[position + 1]}
                    if self.masked.macs(wider) <= self.budget:
                        config = wider
        return config


class HeldOutScore:
    """Mean SSIM of the try-on against the teacher's, on held-out pairs, at a configuration.

    Args:
        masked: the searched network (one of `student_pair`).
        teacher: the teacher's try-on module.
        student_pair: (warp, gen) of the student, the searched network among them.
        data: VITON-layout folder; its first `pairs` pairs are used.
    """

    def __init__(
        self,
        masked: MaskedNetwork,
        teacher: torch.nn.Module,
        student_pair: tuple[torch.nn.Module, torch.nn.Module],
        data: Path,
        pairs: int,
    ):
        from torch.utils.data import DataLoader, Subset

        from optimization.data.viton import VitonPairs

        dataset = VitonPairs(data)
        dataset = Subset(dataset, range(min(pairs, len(dataset))))
        self.masked = masked
        self.tryon = TorchTryOn(*student_pair).eval()
        self.batches = [
            tuple(batch[k] for k in ("person", "clothes", "edge"))
            for batch in DataLoader(dataset, batch_size=HELDOUT_BATCH)
        ]
        teacher.eval()
        with torch.no_grad():
            self.targets = [teacher(*inputs)["p_tryon"] for inputs in self.batches]

    def __call__(self, config: WidthConfig) -> float:
        from optimization.metrics import ssim

        self.masked.configure(config)
        values = []
        with torch.no_grad():
            for inputs, target in zip(self.batches, self.targets, strict=True):
                values.append(ssim(self.tryon(*inputs)["p_tryon"], target, reduce=False))
        return float(torch.cat(values).mean())


def search_stage(
    run: CompressionRun,
    module: str,
    masked: MaskedNetwork,
    recipe: SearchRecipe,
    heldout: Path,
    *,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Search `masked` under the recipe's budget; writes and returns ``search.json``'s content.

    With `resume`, a finished search of the same recipe is read back instead of run again.
    """
    from tryon_app.core.artifact import sha256_of

    path = search_folder(run, module) / "search.json"
    # The search belongs to these weights: once the training has gone on, it is stale.
    weights = sha256_of(search_folder(run, module) / "supernet.pth")
    if resume and path.is_file():
        done = json.loads(path.read_text())
        if done.get("recipe") == _plain(asdict(recipe)) and done.get("supernet_sha256") == weights:
            log.info("reusing the finished search in %s", path)
            return done
    network = MODULES[module]
    index = 0 if network == "warp" else 1
    teacher_macs = masked.macs(masked.space.largest())
    budget = recipe.budget.resolve(teacher_macs)
    student_pair = list(run.student())
    student_pair[index] = masked.model
    score = HeldOutScore(
        masked, TorchTryOn(*run.teacher()), tuple(student_pair), heldout, recipe.pairs
    )
    masked.model.eval()
    candidates, uniform = search_widths(masked, budget, score, recipe, progress=progress)
    masked.configure(masked.space.largest())
    result = {
        "module": module,
        "recipe": _plain(asdict(recipe)),
        "heldout": str(heldout),
        "supernet_sha256": weights,
        "teacher_macs": teacher_macs,
        "budget_macs": budget,
        "uniform": candidates.index(uniform),
        "candidates": [
            {
                "macs": c.macs,
                "share": round(c.macs / teacher_macs, 4),
                "ssim": round(c.score, 6),
                "config": c.config,
            }
            for c in candidates
        ],
    }
    path.write_text(json.dumps(result, indent=1) + "\n")
    best = candidates[0]
    log.info(
        "search %s: %d candidates; best %.1f MMACs (%.0f%%), SSIM %.4f; uniform SSIM %.4f",
        module,
        len(candidates),
        best.macs / 1e6,
        100 * best.macs / teacher_macs,
        best.score,
        uniform.score,
    )
    return result


def _plain(data: Any) -> Any:
    """`data` as JSON gives it back (tuples become lists), to compare recipes with a file."""
    return json.loads(json.dumps(data))


def extract_stage(
    run: CompressionRun, module: str, masked: MaskedNetwork, search: dict[str, Any]
) -> dict[str, Any]:
    """Prune the search's winner out of `masked` and save it as the run's student."""
    network = MODULES[module]
    winner = search["candidates"][0]
    student = masked.extract(winner["config"])
    run.save_student(network, student, stage=f"search {module}", macs=winner["macs"])
    share = search["budget_macs"] / search["teacher_macs"]
    record = {
        "stage": "search",
        "module": module,
        # The run's variant names say how each network was compressed: cwm0.4 for a pruning
        # ratio, cwmofa0.5 for a once-for-all search at half the teacher's MACs.
        "label": f"{module}ofa{share:.2g}",
        "recipe": search["recipe"],
        "supernet_sha256": search["supernet_sha256"],
        "teacher_macs": search["teacher_macs"],
        "budget_macs": search["budget_macs"],
        "macs": winner["macs"],
        "ssim_heldout": winner["ssim"],
        "uniform_ssim_heldout": search["candidates"][search["uniform"]]["ssim"],
        "parameters_before": count_parameters(masked.model),
        "parameters_after": count_parameters(student),
        "widths": measure_widths(student).to_dict(),
        "config": winner["config"],
    }
    run.write_stage(f"search_{module}", record)
    return record
