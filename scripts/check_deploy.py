#!/usr/bin/env python3
"""Required-key checks of the deployment files (docker-compose.yml, Dockerfile,
deploy/): what the schemas cannot see, i.e. that the pieces agree with each other and
with Zipwire (ports, probe paths, names, the KRaft Kafka, the monitoring profile).

Run by scripts/validate-deploy.sh; needs PyYAML. Prints one line per check and a
closing 'N passed, N failed' line; exits 1 when a check fails.
"""
import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(("ok     " if ok else "FAILED ") + name + ("" if ok else f": {detail}"))


def load(path):
    with open(ROOT / path) as f:
        return yaml.safe_load(f)


def load_all(path):
    with open(ROOT / path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


# docker-compose.yml
compose = load("docker-compose.yml")
services = compose.get("services", {})
check("compose has zipwire, postgres and kafka", {"zipwire", "postgres", "kafka"} <= services.keys(), list(services))
zw = services.get("zipwire", {})
env = zw.get("environment", {})
check("compose zipwire stores in postgres", env.get("STORAGE_TYPE") == "postgres" and env.get("POSTGRES_HOST") == "postgres", env)
check("compose zipwire reaches kafka", env.get("KAFKA_BOOTSTRAP_SERVERS", "").startswith("kafka:"), env)
check("compose zipwire publishes 9411", "9411:9411" in zw.get("ports", []), zw.get("ports"))
deps = zw.get("depends_on", {})
check("compose zipwire waits for healthy storage and kafka",
      all(deps.get(s, {}).get("condition") == "service_healthy" for s in ("postgres", "kafka")), deps)
grace = zw.get("stop_grace_period", "")
timeout = env.get("SHUTDOWN_TIMEOUT", "20s")
check("compose stop grace period exceeds SHUTDOWN_TIMEOUT",
      int(re.sub(r"s$", "", grace or "0")) > int(re.sub(r"s$", "", timeout)), (grace, timeout))
kenv = services.get("kafka", {}).get("environment", {})
check("compose kafka runs in KRaft mode without ZooKeeper",
      "controller" in kenv.get("KAFKA_PROCESS_ROLES", "") and "KAFKA_CONTROLLER_QUORUM_VOTERS" in kenv
      and not any("ZOOKEEPER" in k for k in kenv) and "zookeeper" not in services, kenv)
for svc in ("prometheus", "grafana"):
    check(f"compose {svc} is in the monitoring profile", services.get(svc, {}).get("profiles") == ["monitoring"])
prom_mounts = " ".join(services.get("prometheus", {}).get("volumes", []))
check("compose prometheus mounts deploy/prometheus", "./deploy/prometheus/prometheus.yml:" in prom_mounts, prom_mounts)
graf_mounts = " ".join(services.get("grafana", {}).get("volumes", []))
check("compose grafana mounts provisioning and dashboards",
      "./deploy/grafana/provisioning:/etc/grafana/provisioning" in graf_mounts
      and "./deploy/grafana/dashboards:/var/lib/grafana/dashboards" in graf_mounts, graf_mounts)

# Prometheus and Grafana
prom = load("deploy/prometheus/prometheus.yml")
jobs = {j["job_name"]: j for j in prom.get("scrape_configs", [])}
zjob = jobs.get("zipwire", {})
check("prometheus scrapes zipwire:9411/prometheus",
      zjob.get("metrics_path") == "/prometheus"
      and ["zipwire:9411"] in [c.get("targets") for c in zjob.get("static_configs", [])], zjob)
sources = load("deploy/grafana/provisioning/datasources/prometheus.yml").get("datasources", [])
uids = {s.get("uid") for s in sources}
check("grafana datasource points at compose's prometheus",
      any(s.get("url") == "http://prometheus:9090" for s in sources), sources)
providers = load("deploy/grafana/provisioning/dashboards/zipwire.yml").get("providers", [])
check("grafana loads dashboards from the mounted folder",
      any(p.get("options", {}).get("path") == "/var/lib/grafana/dashboards" for p in providers), providers)
dashboard = json.loads((ROOT / "deploy/grafana/dashboards/zipwire.json").read_text())
panel_uids = {p.get("datasource", {}).get("uid") for p in dashboard["panels"] if p.get("type") != "row"}
check("dashboard panels use the provisioned datasource", panel_uids <= uids, (panel_uids, uids))
check("dashboard has a uid and panels", dashboard.get("uid") == "zipwire" and len(dashboard["panels"]) >= 8)

# Dockerfile
dockerfile = (ROOT / "Dockerfile").read_text()
stages = re.findall(r"^FROM\s+\S+", dockerfile, re.M)
check("Dockerfile is multi-stage", len(stages) >= 2, stages)
users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
check("Dockerfile runs as a non-root user", users and users[-1].split(":")[0] not in ("root", "0"), users)
check("Dockerfile has a health check", re.search(r"^HEALTHCHECK\s+.*\n?.*CMD", dockerfile, re.M))
check("Dockerfile exposes 9411", re.search(r"^EXPOSE\s+9411\b", dockerfile, re.M))
check("Dockerfile ships the health check binary", "zipwire-healthcheck" in dockerfile)

# Kubernetes
k8s = {}
kustomization = load("deploy/kubernetes/kustomization.yaml")
for resource in kustomization.get("resources", []):
    for doc in load_all(f"deploy/kubernetes/{resource}"):
        k8s[doc["kind"]] = doc
listed = set(kustomization.get("resources", []))
on_disk = {p.name for p in (ROOT / "deploy/kubernetes").glob("*.yaml")} - {"kustomization.yaml"}
check("kustomization lists every manifest", listed == on_disk, (listed, on_disk))
check("kubernetes has Deployment, Service, HPA and ConfigMap",
      {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap"} <= k8s.keys(), list(k8s))
dep = k8s.get("Deployment", {})
pod = dep.get("spec", {}).get("template", {}).get("spec", {})
container = (pod.get("containers") or [{}])[0]
for probe in ("startupProbe", "readinessProbe"):
    check(f"deployment {probe} is GET /health",
          container.get(probe, {}).get("httpGet", {}).get("path") == "/health", container.get(probe))
check("deployment has a liveness probe", "httpGet" in container.get("livenessProbe", {}))
check("deployment container listens on 9411",
      any(p.get("containerPort") == 9411 for p in container.get("ports", [])), container.get("ports"))
check("deployment runs as non-root",
      pod.get("securityContext", {}).get("runAsNonRoot") is True
      and container.get("securityContext", {}).get("allowPrivilegeEscalation") is False)
cm = k8s.get("ConfigMap", {})
check("deployment takes its env from the ConfigMap",
      {"configMapRef": {"name": cm.get("metadata", {}).get("name")}} in container.get("envFrom", []))
shutdown = int(re.sub(r"s$", "", cm.get("data", {}).get("SHUTDOWN_TIMEOUT", "20s")))
check("grace period exceeds SHUTDOWN_TIMEOUT plus preStop",
      pod.get("terminationGracePeriodSeconds", 30) > shutdown + 5, (pod.get("terminationGracePeriodSeconds"), shutdown))
labels = dep.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
selector = k8s.get("Service", {}).get("spec", {}).get("selector", {})
check("service selects the deployment's pods", selector and all(labels.get(k) == v for k, v in selector.items()), (selector, labels))
check("service exposes 9411", any(p.get("port") == 9411 for p in k8s.get("Service", {}).get("spec", {}).get("ports", [])))
target = k8s.get("HorizontalPodAutoscaler", {}).get("spec", {}).get("scaleTargetRef", {})
check("hpa scales the deployment",
      target.get("kind") == "Deployment" and target.get("name") == dep.get("metadata", {}).get("name"), target)
annotations = dep.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {})
check("pods advertise /prometheus for scraping", annotations.get("prometheus.io/path") == "/prometheus", annotations)

passed, failed = results.count(True), results.count(False)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
