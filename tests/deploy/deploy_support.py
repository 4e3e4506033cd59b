"""Helpers for the deployment-file tests: paths, YAML loading, free ports.

A module of its own (not conftest) so that test files can import it by a name no other test
folder uses.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"


def parse_yaml_documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return parse_yaml_documents(path.read_text())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
