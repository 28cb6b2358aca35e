"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point.

Airflow 3.3 builds the connection form from this metadata alone (hooks are not imported), so
everything the form needs lives here. Keep it free of heavy imports.
"""

from __future__ import annotations

from typing import Any

from airflow_sigma import __version__
from airflow_sigma.api.regions import CLOUD_HOSTS


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-sigma",
        "name": "Sigma Computing",
        "description": "Sigma Computing: workbook catalog, impressions and audit history in your warehouse.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Sigma Computing",
                "external-doc-url": "https://help.sigmacomputing.com/reference/get-started-sigma-api",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "Sigma Computing", "python-modules": ["airflow_sigma.hooks.sigma"]}],
        "operators": [
            {
                "integration-name": "Sigma Computing",
                "python-modules": [
                    "airflow_sigma.operators.catalog",
                    "airflow_sigma.operators.exports",
                    "airflow_sigma.operators.usage",
                    "airflow_sigma.operators.audit",
                    "airflow_sigma.operators.members",
                ],
            }
        ],
        "sensors": [
            {"integration-name": "Sigma Computing", "python-modules": ["airflow_sigma.sensors.exports"]}
        ],
        "triggers": [
            {"integration-name": "Sigma Computing", "python-modules": ["airflow_sigma.triggers.exports"]}
        ],
        "connection-types": [
            {
                "connection-type": "sigma",
                "hook-class-name": "airflow_sigma.hooks.sigma.SigmaHook",
                "hook-name": "Sigma",
                "conn-fields": {
                    "cloud": {
                        "label": "Cloud / region",
                        "description": (
                            "Used when 'API base URL' is empty. 'auto' tries every known Sigma API host "
                            "and keeps the first that accepts the credentials."
                        ),
                        # No null in the enum: the 3.3 UI would show it as a literal "null" choice.
                        "schema": {
                            "type": ["string", "null"],
                            "enum": ["auto", *CLOUD_HOSTS],
                            "values_display": {
                                "auto": "auto: try every known host",
                                **{key: f"{key}: {host}" for key, host in CLOUD_HOSTS.items()},
                            },
                        },
                    },
                    "allow_custom_host": {
                        "label": "Allow custom host",
                        "description": (
                            "Send credentials to a host outside *.sigmacomputing.com or over plain http "
                            "(a proxy, or the local test server)."
                        ),
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                },
                "ui-field-behaviour": {
                    # Port stays visible: Airflow 3.3.2's Test button sends port 0 for a connection stored
                    # without one and the API refuses the test (apache/airflow#73298); 443 avoids that.
                    "hidden-fields": ["schema"],
                    "relabeling": {"host": "API base URL", "login": "Client ID", "password": "Client Secret"},
                    "placeholders": {
                        "host": "https://aws-api.sigmacomputing.com (Administration > Developer Access)",
                        "port": "443 (Airflow 3.3.2's Test button needs a port)",
                        "login": "OAuth client ID",
                        "password": "OAuth client secret",
                        "cloud": "aws-us-west",
                    },
                },
            }
        ],
    }
