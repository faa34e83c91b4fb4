"""Deployment files, checked without a Docker engine or a cluster: the Dockerfiles' stages,
user, ports and command line (parsed by hireserve's own CLI parser); the Kubernetes manifests
against the Kubernetes JSON schemas (kubernetes-validate, offline) and against the server
(probe ports, drain grace, the HPA's metric); the proxy examples' affinity header."""

from __future__ import annotations

import fnmatch
import io
import json
import re
from pathlib import Path

import pytest
import yaml
from exported_metric_names import exported_series_names

from hireserve.clients.affinity import AFFINITY_HEADER
from hireserve.clients.cli import build_parser
from hireserve.server.config import ServerConfig

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "deploy" / "docker"
K8S = REPO / "deploy" / "k8s"
K8S_VERSION = "1.33"  # schemas ship inside kubernetes-validate; no network


# --- Docker ---------------------------------------------------------------------------------

def _stages(dockerfile: Path) -> list[dict]:
    """[{"from": image, "name": alias, "instructions": [(INSTRUCTION, value), ...]}, ...]"""
    from dockerfile_parse import DockerfileParser

    # fileobj: given a path not named "Dockerfile", the parser takes it for a folder.
    parser = DockerfileParser(fileobj=io.BytesIO(dockerfile.read_bytes()))
    stages: list[dict] = []
    for item in parser.structure:
        if item["instruction"] == "FROM":
            image, _, alias = item["value"].partition(" AS ")
            stages.append({"from": image.strip(), "name": alias.strip(), "instructions": []})
        elif stages and item["instruction"] != "COMMENT":
            stages[-1]["instructions"].append((item["instruction"], item["value"]))
    # parent_images has the FROM images with their ARG defaults substituted.
    for stage, image in zip(stages, parser.parent_images, strict=True):
        stage["from"] = image
    return stages


def _one(stage: dict, instruction: str) -> str:
    values = [v for i, v in stage["instructions"] if i == instruction]
    assert len(values) == 1, (instruction, values)
    return values[0]


def _makefile_pins() -> tuple[str, str]:
    text = (REPO / "Makefile").read_text()
    torch_pin = re.search(r"install -q (torch==[\d.]+)", text).group(1)
    no_deps = re.search(r"--no-deps ([^\n]+)", text).group(1).strip()
    return torch_pin, no_deps


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cuda"])
def test_dockerfile_builds_in_one_stage_and_runs_in_another(name: str) -> None:
    stages = _stages(DOCKER / name)
    assert [s["name"] for s in stages] == ["build", "runtime"]
    runtime = stages[-1]
    copies = [v for i, v in runtime["instructions"] if i == "COPY"]
    assert copies == ["--from=build /opt/hireserve /opt/hireserve"]
    build_runs = " ".join(v for i, v in stages[0]["instructions"] if i == "RUN")
    torch_pin, no_deps = _makefile_pins()
    # The same pins as `make install`, so the image runs what CI tested.
    assert f"pip install {torch_pin} --index-url" in build_runs
    assert f"pip install --no-deps {no_deps}" in build_runs
    assert 'pip install ".[server]"' in build_runs
    if name == "Dockerfile":
        assert all(s["from"] == "python:3.11-slim" for s in stages)
        assert "--index-url https://download.pytorch.org/whl/cpu" in build_runs
    else:
        assert stages[0]["from"].startswith("nvidia/cuda:") and "devel" in stages[0]["from"]
        assert runtime["from"].startswith("nvidia/cuda:") and "runtime" in runtime["from"]
        assert "flash" not in runtime["from"] and "WITH_FLASH_ATTN" in build_runs


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cuda"])
def test_image_runs_as_non_root_and_serves_on_its_exposed_ports(name: str) -> None:
    runtime = _stages(DOCKER / name)[-1]
    user = _one(runtime, "USER").split(":")[0]
    assert user not in ("root", "0")
    assert re.search(rf"useradd .*--uid {user}\b", _one(runtime, "RUN"))
    exposed = {int(p) for p in _one(runtime, "EXPOSE").split()}
    entrypoint = json.loads(_one(runtime, "ENTRYPOINT"))
    cmd = json.loads(_one(runtime, "CMD"))
    assert entrypoint[0] == "hireserve"
    # hireserve's own parser: a flag the CLI does not know fails here (SystemExit).
    ns = build_parser().parse_args(entrypoint[1:] + cmd)
    assert ns.command == "serve"
    assert ns.host == "0.0.0.0" and ns.metrics_host == "0.0.0.0"
    assert exposed == {ns.port, ns.metrics_port}
    assert _one(runtime, "STOPSIGNAL") == "SIGTERM"
    health = _one(runtime, "HEALTHCHECK")
    probe = json.loads(health.split("CMD", 1)[1])
    assert probe[0] == "hireserve"
    probe_ns = build_parser().parse_args(probe[1:])
    assert probe_ns.command == "health"
    assert probe_ns.target == f"127.0.0.1:{ns.port}" and probe_ns.max_attempts == 1


def _dockerignored(path: str) -> bool:
    """Docker's rule: patterns in order, the last one that matches wins, `!` re-includes; a
    pattern matching a folder also covers what is inside it."""
    ignored = False
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        matched = any(
            fnmatch.fnmatchcase(p, pattern)
            or (pattern.startswith("**/") and fnmatch.fnmatchcase(p.split("/")[-1], pattern[3:]))
            for p in prefixes
        )
        if matched:
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_the_images_copy_and_nothing_local() -> None:
    for name in ("Dockerfile", "Dockerfile.cuda"):
        build = _stages(DOCKER / name)[0]
        for value in (v for i, v in build["instructions"] if i == "COPY"):
            *sources, _dest = value.split()
            for src in sources:
                assert (REPO / src).exists(), src
                assert not _dockerignored(src), f"{src} is copied but .dockerignore drops it"
                assert not _dockerignored(f"{src}/server/app.py" if src == "hireserve" else src)
    for local in (".venv", "clients-node/node_modules", "tests", "benchmarks", ".git",
                  "hireserve/server/__pycache__"):
        assert _dockerignored(local), local


# --- Kubernetes -----------------------------------------------------------------------------

def _manifests() -> dict[tuple[str, str], dict]:
    objects: dict[tuple[str, str], dict] = {}
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), path
            objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict]:
    return _manifests()


def test_manifests_validate_against_the_kubernetes_schemas(k8s) -> None:
    import kubernetes_validate

    assert len(k8s) >= 7
    for key, doc in k8s.items():
        # strict: an unknown field (a typo such as `startupProb`) is an error, not ignored.
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{key}: {exc}") from exc


def test_kustomization_lists_every_base_manifest() -> None:
    base = K8S / "base"
    listed = yaml.safe_load((base / "kustomization.yaml").read_text())["resources"]
    on_disk = sorted(p.name for p in base.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk


def _container(k8s) -> dict:
    (container,) = k8s[("Deployment", "hireserve")]["spec"]["template"]["spec"]["containers"]
    return container


def _serve_args(k8s) -> object:
    container = _container(k8s)
    env = {}
    for ref in container["envFrom"]:
        env.update(k8s[("ConfigMap", ref["configMapRef"]["name"])]["data"])
    args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in container["args"]]
    return build_parser().parse_args(["serve", *args])


def test_container_args_are_real_serve_flags_on_the_declared_ports(k8s) -> None:
    ns = _serve_args(k8s)
    ports = {p["name"]: p["containerPort"] for p in _container(k8s)["ports"]}
    assert ns.port == ports["grpc"] and ns.metrics_port == ports["metrics"]
    assert ns.host == "0.0.0.0" and ns.metrics_host == "0.0.0.0"
    annotations = k8s[("Deployment", "hireserve")]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == ns.metrics_port


def test_probes_use_native_grpc_health_on_the_grpc_port(k8s) -> None:
    from hireserve.v1 import generation_pb2, screening_pb2

    services = {"", screening_pb2.DESCRIPTOR.services_by_name["ScreeningService"].full_name,
                generation_pb2.DESCRIPTOR.services_by_name["GenerationService"].full_name}
    container = _container(k8s)
    grpc_port = {p["name"]: p["containerPort"] for p in container["ports"]}["grpc"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        spec = container[probe]["grpc"]
        assert spec["port"] == grpc_port, probe
        assert spec["service"] in services, probe
    assert container["readinessProbe"]["grpc"]["service"] == "hireserve.v1.ScreeningService"


def test_writable_paths_are_volumes_on_a_read_only_root(k8s) -> None:
    container = _container(k8s)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    env = {e["name"]: e["value"] for e in container["env"]}
    # The server's cache of assembled and dequantized models (read from the code's own name).
    embedded = (REPO / "hireserve" / "server" / "models" / "embedded.py").read_text()
    assert 'os.environ.get("HIRESERVE_CACHE_DIR")' in embedded
    assert env["HIRESERVE_CACHE_DIR"] in mounts
    assert "/tmp" in mounts


def test_termination_grace_outlasts_the_server_drain(k8s) -> None:
    ns = _serve_args(k8s)
    pod = k8s[("Deployment", "hireserve")]["spec"]["template"]["spec"]
    container = _container(k8s)
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    drain = max(ns.grace_period, ServerConfig().grace_period_s)
    assert pod["terminationGracePeriodSeconds"] > drain + float(pre_stop[1])
    # Liveness must not kill a pod that is draining (its health is NOT_SERVING on purpose).
    live = container["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] > drain
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_services_pdb_and_hpa_select_the_deployment(k8s) -> None:
    deployment = k8s[("Deployment", "hireserve")]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    port_names = {p["name"] for p in _container(k8s)["ports"]}
    for name in ("hireserve", "hireserve-headless"):
        service = k8s[("Service", name)]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    assert k8s[("Service", "hireserve-headless")]["spec"]["clusterIP"] == "None"
    pdb = k8s[("PodDisruptionBudget", "hireserve")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    hpa = k8s[("HorizontalPodAutoscaler", "hireserve")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2  # with the PDB, one replica always serves


def test_hpa_scales_on_an_exported_gauge_the_adapter_serves(k8s) -> None:
    hpa = k8s[("HorizontalPodAutoscaler", "hireserve")]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    name = metric["pods"]["metric"]["name"]
    assert name in exported_series_names()
    adapter = yaml.safe_load(
        k8s[("ConfigMap", "prometheus-adapter-hireserve")]["data"]["config.yaml"])
    (rule,) = [r for r in adapter["rules"] if r["name"]["as"] == name]
    series = re.match(r"(\w+)\{", rule["seriesQuery"]).group(1)
    assert series in exported_series_names()
    assert re.fullmatch(rule["name"]["matches"], series)
    assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}


# --- proxies ----------------------------------------------------------------------------------

def test_envoy_ring_hashes_on_the_affinity_header(k8s) -> None:
    config = yaml.safe_load((REPO / "deploy" / "envoy" / "envoy.yaml").read_text())
    (listener,) = config["static_resources"]["listeners"]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    (route,) = hcm["route_config"]["virtual_hosts"][0]["routes"]
    (policy,) = route["route"]["hash_policy"]
    assert policy["header"]["header_name"] == AFFINITY_HEADER
    (cluster,) = config["static_resources"]["clusters"]
    assert cluster["name"] == route["route"]["cluster"]
    assert cluster["lb_policy"] == "RING_HASH" and cluster["type"] == "STRICT_DNS"
    (endpoint,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    address = endpoint["endpoint"]["address"]["socket_address"]
    assert address["address"].split(".")[0] == "hireserve-headless"
    assert ("Service", "hireserve-headless") in k8s
    assert cluster["health_checks"][0]["grpc_health_check"]["service_name"] == \
        "hireserve.v1.ScreeningService"


def test_nginx_hashes_on_the_same_header() -> None:
    text = (REPO / "deploy" / "envoy" / "nginx.conf").read_text()
    variable = "$http_" + AFFINITY_HEADER.replace("-", "_")
    assert f"hash {variable} consistent;" in text
