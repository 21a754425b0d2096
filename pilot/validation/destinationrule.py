"""DestinationRule: host, subsets and traffic policies
(https://istio.io/latest/docs/reference/config/networking/destination-rule/)."""

from __future__ import annotations

from pilot.validation.destinations import check_subset_name
from pilot.validation.fields import (
    check_export_to,
    check_labels,
    check_workload_labels,
    wildcard_domain_error,
)
from pilot.validation.node import Node, Report
from pilot.validation.trafficpolicy import check_traffic_policy


def validate_destination_rule(report: Report, spec: Node) -> None:
    host = spec["host"].text()
    if not host:
        spec["host"].error("host is required")
    elif problem := wildcard_domain_error(host):
        spec["host"].error(problem)
    check_traffic_policy(spec["trafficPolicy"])
    seen: set[str] = set()
    for subset in spec["subsets"].items():
        name = subset["name"].text()
        if name is None:
            subset["name"].error("subset name is required")
        else:
            check_subset_name(subset["name"], name)
            if name in seen:
                subset["name"].error(f"duplicate subset names: {name}")
            seen.add(name)
        check_labels(subset["labels"])
        check_traffic_policy(subset["trafficPolicy"])
    check_workload_labels(spec["workloadSelector"]["matchLabels"])
    check_export_to(spec["exportTo"], report.resource.namespace)
