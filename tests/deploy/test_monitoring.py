"""The example Prometheus alert rules and Grafana dashboard (deploy/monitoring/) stay valid and true to ttsign.

- `promtool check rules` accepts the alert rules, and `promtool test rules` shows each alert firing on the
  series that should fire it (and a healthy replica firing none).
- Every PromQL expression of the dashboard parses (promtool checks them as recording rules).
- Every ttsign series and every grouping label the rules and the dashboard use exists in ttsign's own
  metrics registry, so renaming a metric without updating them fails here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics_core import Metric

from ttsign.metrics import Metrics
from ttsign.plain_metrics import PlainCounter, PlainHistogram

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (make tools installs prometheus)")
_SERIES = re.compile(r"\bttsign_[a-z_]+")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_GENERIC_LABELS = {"le", "instance", "job"}


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)


def alert_exprs() -> list[str]:
    document = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(exprs) >= len(dashboard["panels"]) >= 8
    return exprs


def registry_series() -> dict[str, set[str]]:
    """Every series name ttsign exposes (with the suffixes Prometheus sees) → its label names."""
    metrics = Metrics()
    series: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        labels = _declared_labels(metrics, family)
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(family.type, [""])
        for suffix in suffixes:
            series[family.name + suffix] = labels
    return series


def _declared_labels(metrics: Metrics, family: Metric) -> set[str]:
    for value in vars(metrics).values():
        if isinstance(value, (PlainCounter, PlainHistogram)) and value.name == family.name:
            return set(value.label_names)
        if getattr(value, "_name", None) == family.name:
            return set(getattr(value, "_labelnames", ()))
    return set()


@needs_promtool
def test_alert_rules_pass_promtool_check_and_unit_tests() -> None:
    checked = run_promtool("check", "rules", str(MONITORING / "alerts.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run_promtool("test", "rules", str(MONITORING / "alerts-test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr


@needs_promtool
def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    # Grafana's own variables are not PromQL: give them the values Grafana would.
    exprs = [e.replace("$__rate_interval", "5m").replace('"$instance"', '".*"') for e in dashboard_exprs()]
    rules = {
        "groups": [
            {"name": "dashboard", "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs)]}
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    checked = run_promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_series_and_labels_exist_in_ttsign(source: str) -> None:
    known = registry_series()
    exprs = alert_exprs() if source == "alerts" else dashboard_exprs()
    for expr in exprs:
        used = set(_SERIES.findall(expr))
        if not used:  # Prometheus's own `up` only
            assert expr.startswith("up{"), expr
            continue
        unknown = used - set(known)
        assert not unknown, f"{sorted(unknown)} not exposed by ttsign (known: {sorted(known)})"
        labels = set().union(*(known[name] for name in used)) | _GENERIC_LABELS
        for group in _GROUPING.findall(expr):
            grouped = {label.strip() for label in group.split(",") if label.strip()}
            assert grouped <= labels, f"{expr}: grouping by {sorted(grouped - labels)}, not a label of {sorted(used)}"


def test_registry_reading_is_not_vacuous() -> None:
    known: dict[str, Any] = registry_series()
    assert known["ttsign_http_requests_total"] == {"route", "method", "dialect", "status"}
    assert {"ttsign_http_request_duration_seconds_bucket", "ttsign_breakers_open"} <= set(known)
