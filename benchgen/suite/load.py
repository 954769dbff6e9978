"""Loading a benchmark suite: a TOML file -> :class:`~benchgen.suite.model.Suite`.

Unknown keys, wrong types, unknown plugins and impossible values are :class:`ConfigError` s naming
the file, the key path and what is allowed. ``[profiles.NAME]`` tables are partial suites merged over
the base (e.g. ``quick`` shrinks shape and sample counts for a CPU); ``profile="auto"`` takes
``quick`` on every machine: the ``paper`` profile runs only when named.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from pathlib import Path
from typing import Any, Sequence

from benchgen import registry
from benchgen.bounds import check_suite
from benchgen.errors import BenchgenError, ConfigError
from benchgen.params import params_to_dict, parse_params, parse_value
from benchgen.safety import check_name
from benchgen.suite import protocols
from benchgen.suite.model import Parent, PluginSpec, Suite
from benchgen.suite.schema import PROFILE_KEYS, REQUIRED_TABLES, SCHEMA, STRATA, check_table

NESTING_HINT = "a suite nests a few tables deep (e.g. [generators.ddpm.params]); look for a runaway '[' or '{'"


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


AUTO_REASON = "auto: a paper-scale profile runs only when named"


def choose_profile(requested: str, profiles: list[str]) -> tuple[str, str]:
    """(profile, why). `auto`: quick (or the first profile that is not paper) on any machine — a CUDA device
    alone does not start a paper-scale run (a laptop GPU is one); 'default' when the suite has none."""
    if requested != "auto":
        if requested not in profiles and requested != "default":
            raise ConfigError(f"unknown profile '{requested}'", f"this suite has: {', '.join(profiles) or 'none'}")
        return requested, "chosen on the command line"
    if not profiles:
        return "default", "the suite defines no profiles"
    small = [p for p in profiles if not p.startswith("paper")]
    return ("quick" if "quick" in profiles else (small or profiles)[0]), AUTO_REASON


def profile_body(profiles: dict[str, Any], name: str, chain: tuple[str, ...] = ()) -> dict[str, Any]:
    """A profile's tables, merged over those of the profile it is ``like`` (e.g. ``quick-als`` like ``quick``)."""
    table = profiles[name]
    base = table.get("like")
    if not isinstance(base, (str, type(None))):
        raise ConfigError(f"profiles.{name}.like: expected a profile name, got {base!r}")
    if base is not None and base not in profiles:
        raise ConfigError(f"profiles.{name}.like: no profile '{base}' in this suite",
                          f"choose from {', '.join(p for p in profiles if p != name)}")
    if base in (*chain, name):
        raise ConfigError(f"profiles.{name}.like: a loop ({' -> '.join((*chain, name, base))})")
    own = {k: v for k, v in table.items() if k not in PROFILE_KEYS}
    return own if base is None else deep_merge(profile_body(profiles, base, (*chain, name)), own)


def plugin_spec(kind: str, label: str, table: dict[str, Any], where: str) -> PluginSpec[Any]:
    """`plugin` (default: the label) may be plain (`ddpm`) or qualified (`other-dist:ddpm`)."""
    try:
        name = registry.resolve(kind, table.get("plugin", label))
        cls = registry.load_class(kind, name)
    except BenchgenError as exc:
        raise ConfigError(f"{where}: {exc.message}", exc.hint, debug_details=exc.debug_details) from None
    params = parse_params(cls.Params, table.get("params"), f"{where}.params")
    stratify = table.get("stratify", "")
    if stratify:
        if stratify not in STRATA:
            raise ConfigError(f"{where}.stratify: {stratify!r} is not allowed", f"choose {' or '.join(STRATA)}")
        if not getattr(cls, "stratifiable", True):
            raise ConfigError(f"{where}.stratify: metric '{name}' cannot be scored per group",
                              "drop stratify on it (its score already compares groups)")
    return PluginSpec(kind, label, name, params, int(table.get("seed", 0)),
                      bool(table.get("per_condition", False)), stratify)


def _dataset_fields(ds: dict[str, Any], where: str) -> dict[str, Any]:
    """The Suite fields of a checked ``[dataset]`` table (all but the shape): source, split and its seed, ..."""
    split = {k: float(v) for k, v in ds["split"].items() if k != "stratify"}
    if any(v < 0 or v >= 1 for v in split.values()):
        raise ConfigError(f"{where}.split: fractions must be in [0, 1), got {split}")
    if abs(sum(split.values()) - 1.0) > 1e-6:
        raise ConfigError(f"{where}.split: fractions must sum to 1, got {sum(split.values()):g} from {split}")
    if split["test"] <= 0 or split["train"] <= 0:
        raise ConfigError(f"{where}.split: train and test must both be > 0")
    if ds.get("split_seed", 0) < 0:
        raise ConfigError(f"{where}.split_seed: must be ≥ 0, got {ds['split_seed']}")
    if ds.get("jobs", 1) < 1:
        raise ConfigError(f"{where}.jobs: must be ≥ 1 (1 runs in this process), got {ds['jobs']}")
    source = plugin_spec("datasets", ds["source"], {"plugin": ds["source"], "params": ds.get("params")}, where)
    return {"source": source, "split": split, "split_seed": ds.get("split_seed", 0),
            "split_stratify": ds["split"].get("stratify", ""), "first_volume": ds.get("first_volume", False),
            "jobs": ds.get("jobs", 1)}


def _generator_spec(label: str, table: dict[str, Any], dataset: dict[str, Any]) -> PluginSpec[Any]:
    """A generator table's spec; a transfer-learned plugin's ``parent`` or ``pretrain`` is resolved first, and
    its params default to the parent's (so the network matches unless the table changes it)."""
    where = f"generators.{label}"
    try:
        cls = registry.load_class("generators", registry.resolve("generators", table.get("plugin", label)))
    except BenchgenError:
        return plugin_spec("generators", label, table, where)  # reports the unknown plugin
    given = [k for k in ("parent", "pretrain") if k in table]
    plugins: tuple[str, ...] = tuple(getattr(cls, "parent_plugins", None) or ())
    if not plugins:
        if given:
            raise ConfigError(f"{where}.{given[0]}: generator '{table.get('plugin', label)}' trains from scratch",
                              "only transfer-learned generators (plugin = \"finetune\") take a parent")
        return plugin_spec("generators", label, table, where)
    if len(given) != 1:
        raise ConfigError(f"{where}: a '{table.get('plugin', label)}' generator needs exactly one of parent "
                          f"(a checkpoint folder) or [{where}.pretrain]"
                          + (" (it has both)" if given else ""),
                          f'e.g. parent = "~/.cache/benchgen/checkpoints/ddpm-..." or a pretrain table naming '
                          f'plugin = "{plugins[0]}", its params and a dataset')
    if "parent" in table:
        parent, defaults = _parent_folder(table["parent"], plugins, f"{where}.parent")
    else:
        parent, defaults = _pretrain(label, table["pretrain"], dataset, plugins, table.get("seed", 0))
    own = {k: v for k, v in table.items() if k not in given}
    spec = plugin_spec("generators", label, {**own, "params": deep_merge(defaults, own.get("params") or {})}, where)
    return dataclasses.replace(spec, parent=parent)


def _parent_folder(path: str, plugins: tuple[str, ...], where: str) -> tuple[Parent, dict[str, Any]]:
    """A checkpoint folder as a parent: its recorded plugin must be one of `plugins`; its params are the defaults."""
    from benchgen.checkpoint import checkpoint_sha256, generator_config
    from benchgen.hashing import fingerprint

    folder = Path(path).expanduser()
    try:
        config = generator_config(folder)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}", exc.hint) from None
    if config["plugin"] not in plugins:
        raise ConfigError(f"{where}: {folder} is a '{config['plugin']}' checkpoint",
                          f"the parent must be a {' or '.join(plugins)} checkpoint")
    identity = {"sha256": checkpoint_sha256(folder), "config_hash": fingerprint(config)}
    return Parent(path=folder, identity=identity), dict(config["params"])


def _pretrain(label: str, table: dict[str, Any], dataset: dict[str, Any], plugins: tuple[str, ...],
              seed: int) -> tuple[Parent, dict[str, Any]]:
    """``[generators.LABEL.pretrain]``: the parent generator and its dataset (the suite's ``[dataset]`` with the
    table's ``dataset`` merged over it; the shape stays the suite's, so the parent fits the child)."""
    where = f"generators.{label}.pretrain"
    plugin = table.get("plugin", plugins[0])
    if registry.resolve("generators", plugin) not in plugins:
        raise ConfigError(f"{where}.plugin: '{plugin}' cannot be a parent here", f"choose {' or '.join(plugins)}")
    merged = deep_merge(dataset, table.get("dataset", {}))
    check_table(merged, SCHEMA["dataset"], f"{where}.dataset")
    if merged["shape"] != dataset["shape"]:
        raise ConfigError(f"{where}.dataset.shape: the parent is fitted at the suite's shape {dataset['shape']}",
                          "drop shape from the pretrain dataset table")
    spec = plugin_spec("generators", f"{label}.pretrain", {"plugin": plugin, "params": table.get("params"),
                                                             "seed": table.get("seed", seed)}, where)
    if spec.parent is None and getattr(registry.load_class("generators", spec.plugin), "parent_plugins", None):
        raise ConfigError(f"{where}.plugin: a pretrain parent trains from scratch; '{plugin}' needs a parent itself",
                          f"use plugin = \"{plugins[0]}\", or give its checkpoint as parent = \"...\"")
    return Parent(spec=spec, dataset=_dataset_fields(merged, f"{where}.dataset")), params_to_dict(spec.params)


def with_bootstrap(spec: PluginSpec[Any], bootstrap: int) -> PluginSpec[Any]:
    """The suite's bootstrap B reaches every metric that has a `bootstrap` parameter, so the stored
    params (and the cell keys made from them) say which B produced each CI."""
    if not any(f.name == "bootstrap" for f in dataclasses.fields(spec.params)):
        return spec
    return dataclasses.replace(spec, params=dataclasses.replace(spec.params, bootstrap=bootstrap))


def check_plugins(generators: dict[str, PluginSpec[Any]], metrics: dict[str, PluginSpec[Any]],
                  shape: tuple[int, int, int], n_samples: int, device: str, n_real: int | None = None) -> None:
    """Each generator's and metric's :meth:`~benchgen.interfaces.Plugin.check_suite` on this suite: what
    `run` would fail on is one ConfigError before any work. A hook that crashes is reported as such."""
    import traceback

    from benchgen.interfaces import SuiteCheck

    for prefix, specs in (("generators", generators), ("evaluation.metrics", metrics)):
        for label, spec in specs.items():
            where = f"{prefix}.{label}"
            try:
                spec.build().check_suite(SuiteCheck(shape, n_samples, device, where, n_real))
            except BenchgenError:
                raise
            except Exception as exc:  # a bug in the plugin's hook, not in the suite
                raise ConfigError(f"{where}: plugin '{spec.plugin}' failed to check the suite "
                                  f"({type(exc).__name__}: {exc})", "re-run with --debug for its traceback",
                                  debug_details=traceback.format_exc()) from None


def resolve_like(tables: dict[str, Any]) -> dict[str, Any]:
    """Generator tables with ``like = "other"`` become that table merged under their own keys: rows that
    differ in one setting (a guidance scale, a sampler) say only that."""
    out: dict[str, Any] = {}

    def resolve(label: str, chain: tuple[str, ...]) -> dict[str, Any]:
        table = tables[label]
        base = table.get("like")
        if base is None:
            return table
        if base not in tables:
            raise ConfigError(f"generators.{label}.like: no generator '{base}' in this suite",
                              f"choose from {', '.join(t for t in tables if t != label)}")
        if base in chain:
            raise ConfigError(f"generators.{label}.like: a loop ({' -> '.join((*chain, base))})")
        inherited = {"plugin": base, **resolve(base, (*chain, base))}  # a table's plugin defaults to its label
        return deep_merge(inherited, {k: v for k, v in table.items() if k != "like"})

    for label in tables:
        out[label] = resolve(label, (label,))
    for label, table in out.items():  # a pretrain table `like` a generator takes that one's plugin and params
        pre = table.get("pretrain")
        if isinstance(pre, dict) and "like" in pre:
            base = out.get(pre["like"])
            if base is None or pre["like"] == label:
                raise ConfigError(f"generators.{label}.pretrain.like: no other generator '{pre['like']}' in this suite",
                                  f"choose from {', '.join(t for t in tables if t != label)}")
            inherited = {"plugin": base.get("plugin", pre["like"]), "params": base.get("params", {})}
            table["pretrain"] = deep_merge(inherited, {k: v for k, v in pre.items() if k != "like"})
    return out


def _step_specs(steps: list[Any]) -> list[PluginSpec[Any]]:
    out = []
    for i, step in enumerate(steps):
        where = f"preprocessing.steps[{i}]"
        if isinstance(step, str):
            table: dict[str, Any] = {"plugin": step}
        elif isinstance(step, dict):
            check_table(step, {"step": (str, True), "params": (dict, False)}, where)
            table = {"plugin": step["step"], "params": step.get("params")}
        else:
            raise ConfigError(f"{where}: expected a step name or a table {{step = ..., params = {{...}}}}")
        out.append(plugin_spec("preprocessors", table["plugin"], table, where))
    return out


# ------------------------------------------------------------------------------------------ loading
def read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"{path}: no such suite file", "pass a path like benchmarks/healthy_t1.toml")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a suite file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the suite file ({exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None
    except RecursionError:  # the parser recurses per nested array or inline table
        raise ConfigError(f"{path}: arrays or inline tables nested too deeply to parse", NESTING_HINT) from None


def load_suite(path: str | Path, profile: str = "auto", overrides: Sequence[str] = ()) -> Suite:
    """Read, merge the chosen profile, apply ``--set KEY.PATH=VALUE`` overrides, validate strictly and
    resolve every plugin. Overrides are checked exactly like the file's own keys."""
    path = Path(path)
    raw = read_toml(path)
    sets = [parse_set(item) for item in overrides]
    try:
        return check_suite(_build(path, raw, profile, sets))  # sizes against this machine, jobs capped
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}", exc.hint, debug_details=exc.debug_details) from None
    except RecursionError:  # checking or merging a table nested thousands of levels deep
        raise ConfigError(f"{path}: tables nested too deeply to check", NESTING_HINT) from None


def parse_set(item: str) -> tuple[list[str], Any]:
    """``generators.ddpm.params.lr=1e-4`` -> (["generators", "ddpm", "params", "lr"], 0.0001)."""
    lhs, sep, raw = item.partition("=")
    keys = [k.strip() for k in lhs.split(".")]
    if not sep or len(keys) < 2 or not all(keys):
        raise ConfigError(f"--set {item!r}: expected TABLE.KEY=VALUE, e.g. generators.ddpm.params.max_steps=600 "
                          "or evaluation.n_samples=8")
    return keys, parse_value(raw)


def apply_sets(doc: dict[str, Any], sets: Sequence[tuple[list[str], Any]]) -> dict[str, Any]:
    """`doc` with each override set; tables on the way are created, so the schema check that follows
    reports an unknown key by its full path."""
    out = copy.deepcopy(doc)
    for keys, value in sets:
        table = out
        for i, key in enumerate(keys[:-1]):
            nxt = table.setdefault(key, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {'.'.join(keys)}: {'.'.join(keys[:i + 1])} is a value, not a table")
            table = nxt
        table[keys[-1]] = value
    return out


def _build(path: Path, raw: dict[str, Any], requested: str,
           sets: Sequence[tuple[list[str], Any]] = ()) -> Suite:
    check_table(raw, SCHEMA, "", partial=True)
    profiles = raw.get("profiles", {})
    for pname, ptable in profiles.items():
        body = {k: v for k, v in ptable.items() if k not in PROFILE_KEYS}
        check_table(body, {k: v for k, v in SCHEMA.items() if k != "profiles"}, f"profiles.{pname}", partial=True)
    for table in REQUIRED_TABLES:
        if table not in raw:
            raise ConfigError(f"missing required table [{table}]")
    profile, reason = choose_profile(requested, list(profiles))
    doc = {k: v for k, v in raw.items() if k != "profiles"}
    if profile in profiles:
        doc = deep_merge(doc, profile_body(profiles, profile))
    if sets:
        doc = apply_sets(doc, sets)
    check_table(doc, SCHEMA, "")

    ds, ev = doc["dataset"], doc["evaluation"]
    shape = ds["shape"]
    if len(shape) != 3 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 2 for s in shape):
        raise ConfigError(f"dataset.shape: expected three integers ≥ 2 like [84, 128, 84], got {shape!r}")
    dataset = _dataset_fields(ds, "dataset")
    if ev["n_samples"] < 2:
        raise ConfigError(f"evaluation.n_samples: must be at least 2, got {ev['n_samples']}")
    seeds = ev["seeds"]
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"evaluation.seeds: expected a non-empty array of integers, got {seeds!r}")
    if any(s < 0 for s in seeds):  # numpy's generators refuse them: the run would fail at the first seed
        raise ConfigError(f"evaluation.seeds: seeds must be ≥ 0, got {seeds!r}")
    doc["generators"] = resolve_like(doc["generators"])
    for label, table in doc["generators"].items():
        if table.get("seed", 0) < 0:
            raise ConfigError(f"generators.{label}.seed: must be ≥ 0, got {table['seed']}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"evaluation.seeds: seeds repeat in {seeds!r}")
    if ev.get("bootstrap", 200) < 0:
        raise ConfigError("evaluation.bootstrap: must be ≥ 0 (0 turns confidence intervals off)")
    draws = ev.get("draws", 1)
    if draws < 1:
        raise ConfigError(f"evaluation.draws: must be ≥ 1, got {draws}")
    if draws > 1 and not dataset["split"].get("val", 0) > 0:
        raise ConfigError(f"evaluation.draws = {draws}: each draw re-splits the train + val subjects, but "
                          "dataset.split has no val fraction", "give dataset.split a val fraction (the pool the "
                          "training sets are drawn from is train + val), or set draws = 1")
    device = ev.get("device", "auto")
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"evaluation.device: {device!r} is not allowed; choose auto, cpu or cuda")
    if device == "cuda" and not cuda_available():
        raise ConfigError('evaluation.device: "cuda" but no CUDA device is available',
                          'use device = "auto" (CUDA when present) or "cpu"')
    if not doc["generators"]:
        raise ConfigError("[generators]: the suite names no generator")
    if "conditions" in ev:
        from benchgen.conditions import check_conditions_spec

        check_conditions_spec(ev["conditions"])
        total = sum(w if isinstance(w, int) else w["n"] for w in ev["conditions"].values())
        if total != ev["n_samples"]:
            raise ConfigError(f"evaluation.conditions: the counts sum to {total}, but evaluation.n_samples is "
                              f"{ev['n_samples']}", "make them equal (a profile that changes n_samples must "
                              "change the counts too)")
    protocol = ev.get("protocol", "")
    if protocol:  # the preset supplies the metrics; the suite may only add their weights paths
        metric_tables = protocols.metric_tables(protocols.get(protocol, "evaluation.protocol"),
                                                ev.get("metrics"), "evaluation.metrics.")
    elif not ev.get("metrics"):
        raise ConfigError("[evaluation.metrics]: the suite names no metric",
                          f'add [evaluation.metrics.LABEL] tables, or a protocol: [evaluation] protocol = "NAME" '
                          f'({", ".join(protocols.PROTOCOLS)})')
    else:
        metric_tables = ev["metrics"]

    check_name(doc["suite"]["name"], "suite.name")
    for pname in profiles:
        check_name(pname, f"[profiles.{pname}]")
    for label in doc["generators"]:
        check_name(label, f"[generators.{label}]")
    for label in metric_tables:
        check_name(label, f"[evaluation.metrics.{label}]")
    generators = {label: _generator_spec(label, {k: v for k, v in t.items() if k != "fits"}, ds)
                  for label, t in doc["generators"].items()}
    fits = {label: t.get("fits", ev.get("fits", 1)) for label, t in doc["generators"].items()}
    for label, n in fits.items():
        if n < 1:
            where = f"generators.{label}.fits" if "fits" in doc["generators"][label] else "evaluation.fits"
            raise ConfigError(f"{where}: must be at least 1 (the times each generator is trained), got {n}")
    baseline = ev.get("baseline", "")
    if baseline and baseline not in generators:
        raise ConfigError(f"evaluation.baseline: '{baseline}' is not one of the suite's generators",
                          f"choose one of {', '.join(generators)}")
    bootstrap = ev.get("bootstrap", 200)
    metrics = {label: with_bootstrap(plugin_spec("metrics", label, t, f"evaluation.metrics.{label}"), bootstrap)
               for label, t in metric_tables.items()}
    default_primary = protocols.PROTOCOLS[protocol].primary if protocol else next(iter(metrics))
    primary = doc["suite"].get("primary_metric", default_primary)
    if primary.split(".")[0] not in metrics:
        raise ConfigError(f"suite.primary_metric: '{primary}' is not one of the suite's metrics",
                          f"choose one of {', '.join(metrics)}")
    try:
        check_plugins(generators, metrics, tuple(shape), ev["n_samples"], device)
    except ConfigError as exc:
        if not protocol or not exc.message.startswith("evaluation.metrics."):
            raise
        raise ConfigError(f"evaluation.protocol '{protocol}' does not fit this suite: {exc.message}",
                          "a protocol fixes its params: change dataset.shape, or drop the protocol",
                          debug_details=exc.debug_details) from None
    return Suite(
        path=path, name=doc["suite"]["name"], version=doc["suite"]["version"],
        description=doc["suite"].get("description", ""), profile=profile, profile_reason=reason,
        profiles=list(profiles), primary_metric=primary, shape=tuple(shape),
        steps=_step_specs(doc.get("preprocessing", {}).get("steps", [])),
        generators=generators, n_samples=ev["n_samples"], seeds=list(seeds),
        bootstrap=bootstrap, device=device, metrics=metrics, document=doc, protocol=protocol,
        conditions=ev.get("conditions"), draws=draws, fits={k: v for k, v in fits.items() if v > 1},
        baseline=baseline, **dataset)
