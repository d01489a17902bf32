"""``nas-scaling ui``: the MLflow UI and optuna-dashboard over local results, until Ctrl-C."""

from __future__ import annotations

import argparse

from nas_scaling.cli.common import int_range

__all__ = ["add_parser"]


port_arg = int_range(1, 65535, "a port number")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "ui",
        help="serve the MLflow UI and optuna-dashboard over local results",
        description="Start the MLflow UI (runs) and optuna-dashboard (studies) as local servers, print "
        "their URLs, and stop both on Ctrl-C (exit 130) or when one of them dies (exit 1).",
    )
    p.add_argument("--mlflow-port", type=port_arg, default=5000, help="MLflow UI port (default 5000)")
    p.add_argument("--dashboard-port", type=port_arg, default=8080, help="optuna-dashboard port (default 8080)")
    p.add_argument("--host", default="127.0.0.1", help="interface both servers bind to (default 127.0.0.1)")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default sqlite:///studies/studies.db)")
    p.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default $MLFLOW_TRACKING_URI "
                   "or sqlite:///mlruns/mlflow.db)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nas_scaling.cli.common import tracking_uri
    from nas_scaling.report.ui import serve_ui
    from nas_scaling.search.study import DEFAULT_STORAGE
    from nas_scaling.tracking import artifact_root_for

    uri = tracking_uri(args.tracking_uri)
    return serve_ui(
        storage=args.storage or DEFAULT_STORAGE, tracking_uri=uri, artifact_root=artifact_root_for(uri),
        host=args.host, mlflow_port=args.mlflow_port, dashboard_port=args.dashboard_port,
        experiment_id=_experiment_id(uri),
    )


def _experiment_id(uri: str) -> str | None:
    """The id of the experiment the commands log to, if the store has it (its runs page is printed)."""
    from nas_scaling.errors import UserError
    from nas_scaling.tracking import MlflowTracker

    try:
        return MlflowTracker(uri, experiment="nas-scaling", create=False).experiment_id
    except UserError:
        return None
