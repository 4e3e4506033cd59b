"""Fixtures of the deployment-file tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deploy_support import K8S, load_yaml_documents


@pytest.fixture(scope="session")
def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    """Every resource of the Kubernetes manifests (the kustomization file excluded)."""
    return [
        (path, doc)
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load_yaml_documents(path)
    ]


@pytest.fixture(scope="session")
def k8s_by_kind(k8s_documents: list[tuple[Path, dict[str, Any]]]) -> dict[tuple[str, str], Any]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in k8s_documents}
