"""The parts of docker/check.sh that read JSON or speak HTTP, on the host's python3 (standard library only).

    python3 docker/check.py pip-indexes DIR URL  the host pip's index, extra-index and constraint settings
                                                 as KEY=VALUE build arguments; local files are linked into
                                                 DIR, which the caller serves at URL
    python3 docker/check.py grid-result GRID_JSON    the grid run in the image: what it trained and chose
    python3 docker/check.py stack --mlflow URL --dashboard URL --study NAME --worker-node ID [--other-node ID]
                                                 the runner's trial runs are in MLflow, FINISHED, every one on
                                                 the worker's Ray node; its study is in optuna-dashboard
Each check prints what it saw and exits 1 with one line saying what is wrong.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

PIP_SETTINGS = {"index-url": "PIP_INDEX_URL", "extra-index-url": "PIP_EXTRA_INDEX_URL", "constraint": "PIP_CONSTRAINT"}


class CheckFailed(Exception):
    pass


def _pip_config() -> dict[str, str]:
    """``pip config list`` of the host's pip as {setting: value}; the environment (``:env:``) wins."""
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                             timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[str, tuple[int, str]] = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        scope, _, name = key.rpartition(".")
        if name in PIP_SETTINGS and value:
            rank = 1 if scope == ":env:" else 0
            if name not in found or rank >= found[name][0]:
                found[name] = (rank, value.strip("'\""))
    return {name: value for name, (_, value) in found.items()}


def pip_indexes(serve_dir: Path, base_url: str) -> list[str]:
    """Build arguments that give the image's pip the host pip's indexes and constraints; a file:// index or
    a local constraint file is linked into ``serve_dir`` and named by its URL under ``base_url``."""
    args: list[str] = []
    links = 0

    def served(path: Path, tail: str) -> str:
        nonlocal links
        links += 1
        (serve_dir / f"l{links}").symlink_to(path)
        return f"{base_url}/l{links}{tail}"

    for name, value in _pip_config().items():
        converted = []
        for item in value.split():
            if item.startswith("file://"):
                path = Path(urllib.parse.unquote(urllib.parse.urlparse(item).path))
                # an index page links its files relative to itself (../../files/x.whl): serve its parent
                converted.append(served(path.parent, "/" + path.name))
            elif "://" not in item and name == "constraint":
                path = Path(item)
                converted.append(served(path.resolve(), "") if path.is_file() else item)
            else:
                converted.append(item)
        args.append(f"{PIP_SETTINGS[name]}={' '.join(converted)}")
    return args if links else []  # only where the host has local indexes or constraints


def grid_result(path: Path) -> None:
    result = json.loads(path.read_text())
    budget, target = result["budget"], result["target_factor"]
    print(f"grid.json: study {result['study']!r}, budget {budget} ({result['budget_reading']}), "
          f"{result['trained']} trained, {result['restored']} restored, {result['failed']} failed")
    if result["failed"]:
        raise CheckFailed(f"{result['failed']} of the grid's trainings failed")
    candidates = result["candidates"]
    if result["trained"] != len(candidates) + 1:
        raise CheckFailed(f"trained {result['trained']}, expected the {len(candidates)} candidates and the base")
    over = [c for c in candidates if c["factor_real"] > target * (1 + 1e-9)]
    if over:
        raise CheckFailed(f"candidates above the budget ({target}x): {over}")
    if any(c["status"] != "completed" for c in [*candidates, result["base"]]):
        raise CheckFailed(f"not every training completed: {[c['status'] for c in candidates]}")
    best = result["best"]
    [chosen] = [c for c in candidates if all(c[k] == best[k] for k in ("alpha", "beta", "gamma"))]
    base = result["base"]
    print(f"best: alpha={best['alpha']} beta={best['beta']} gamma={best['gamma']}, real FLOP factor "
          f"{chosen['factor_real']:.3f}, {chosen['params']:,} params, val top-1 {chosen['val_top1_mean']:.3f} "
          f"(base {base['val_top1_mean']:.3f}, {base['params']:,} params)")


def _http(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _mlflow_trial_runs(mlflow: str, study: str) -> list[dict[str, Any]]:
    experiments = _http(f"{mlflow}/api/2.0/mlflow/experiments/search", {"max_results": 1000}).get("experiments", [])
    print(f"MLflow {mlflow}: experiments {sorted(e['name'] for e in experiments)}")
    runs: list[dict[str, Any]] = []
    for experiment in experiments:
        page: dict[str, Any] = {}
        while True:
            page = _http(f"{mlflow}/api/2.0/mlflow/runs/search", {
                "experiment_ids": [experiment["experiment_id"]], "max_results": 1000,
                "filter": f"tags.study = '{study}'", **({"page_token": page["next_page_token"]}
                                                          if page.get("next_page_token") else {})})
            runs += page.get("runs", [])
            if not page.get("next_page_token"):
                break
    return runs


def stack(mlflow: str, dashboard: str, study: str, worker_node: str, other_nodes: list[str]) -> None:
    runs = _mlflow_trial_runs(mlflow, study)
    tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
    kinds = Counter(t.get("kind", "") for t in tags)
    print(f"MLflow runs of study {study!r}: {dict(kinds)}")
    trials = [(r, t) for r, t in zip(runs, tags, strict=True) if t.get("kind") == "grid"]
    if not trials:
        raise CheckFailed(f"no trial runs (tag kind=grid) of study {study!r} in MLflow")
    if kinds.get("grid-parent") != 1:
        raise CheckFailed(f"expected one parent run (kind=grid-parent), found {kinds.get('grid-parent', 0)}")
    nodes = Counter(t.get("node", "") for _, t in trials)
    statuses = Counter(r["info"]["status"] for r, _ in trials)
    print(f"trial runs: {len(trials)}, status {dict(statuses)}, Ray node {dict(nodes)}")
    print(f"Ray nodes: worker {worker_node}, head and runner {other_nodes}")
    if set(statuses) != {"FINISHED"}:
        raise CheckFailed(f"not every trial run FINISHED: {dict(statuses)}")
    if set(nodes) != {worker_node}:
        raise CheckFailed(f"trials ran on {dict(nodes)}, not only on the ray-worker's node {worker_node}")
    if worker_node in other_nodes:
        raise CheckFailed("the worker's node id is also the head's or the runner's")

    listing = _http(f"{dashboard}/api/studies")
    summaries = listing.get("study_summaries", listing.get("studies", []))
    print(f"optuna-dashboard {dashboard}: studies {sorted(s['study_name'] for s in summaries)}")
    found = [s for s in summaries if s["study_name"] == study]
    if not found:
        raise CheckFailed(f"study {study!r} is not in optuna-dashboard")
    detail = _http(f"{dashboard}/api/studies/{found[0]['study_id']}")
    states = Counter(t["state"] for t in detail["trials"])
    print(f"optuna-dashboard study {study!r}: {len(detail['trials'])} trials, {dict(states)}")
    if states.get("Complete", 0) != len(trials):
        raise CheckFailed(f"{states.get('Complete', 0)} complete trials in the study, "
                          f"{len(trials)} trial runs in MLflow")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pip-indexes")
    p.add_argument("serve_dir", type=Path)
    p.add_argument("base_url")
    p = sub.add_parser("grid-result")
    p.add_argument("path", type=Path)
    p = sub.add_parser("stack")
    p.add_argument("--mlflow", required=True)
    p.add_argument("--dashboard", required=True)
    p.add_argument("--study", required=True)
    p.add_argument("--worker-node", required=True)
    p.add_argument("--other-node", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        if args.command == "pip-indexes":
            print("\n".join(pip_indexes(args.serve_dir, args.base_url.rstrip("/"))))
        elif args.command == "grid-result":
            grid_result(args.path)
        else:
            stack(args.mlflow.rstrip("/"), args.dashboard.rstrip("/"), args.study, args.worker_node, args.other_node)
    except CheckFailed as error:
        print(f"check failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
