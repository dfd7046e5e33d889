#!/usr/bin/env python3
"""Checks deploy/k8s/ against the Dockerfile, docker-compose.yml and etc/lexiaid.conf.

  tests/container/check-k8s.py                    check; prints "N passed, N failed"
  tests/container/check-k8s.py --write-configmap  regenerate deploy/k8s/base/configmap.yaml
                                                  from etc/lexiaid.conf (run after editing it)

Needs python3-yaml (Debian); nothing else, no cluster.
"""
import os
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check-k8s: needs python3-yaml (apt-get install python3-yaml)")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(ROOT, "deploy", "k8s")
CONF = os.path.join(ROOT, "etc", "lexiaid.conf")
CONFIGMAP = os.path.join(K8S, "base", "configmap.yaml")

results = []


def check(ok, what):
    results.append((bool(ok), what))
    print(("ok   " if ok else "FAIL ") + what)
    return ok


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def configmap_text(conf):
    head = (
        "# GENERATED from etc/lexiaid.conf by tests/container/check-k8s.py --write-configmap:\n"
        "# edit etc/lexiaid.conf, then regenerate (CI fails when the two differ).\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lexiaid-config\n"
        "  labels:\n    app.kubernetes.io/name: lexiaid\ndata:\n  lexiaid.conf: |\n"
    )
    body = "".join(("    " + line if line.strip() else "\n") if line.endswith("\n") else "    " + line + "\n"
                   for line in conf.splitlines(True))
    return head + body


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def dockerfile_facts():
    text = read(os.path.join(ROOT, "Dockerfile"))
    final = text.split("\nFROM ")[-1]  # the last stage
    expose = [int(p.split("/")[0]) for line in final.splitlines() if line.startswith("EXPOSE ")
              for p in line.split()[1:]]
    user = [line.split()[1] for line in final.splitlines() if line.startswith("USER ")]
    return expose, user


def conf_routes(conf):
    # `path = "/x";` inside the routes list (comments dropped first)
    lines = [re.sub(r"(^|\s)(#|//).*$", "", l) for l in conf.splitlines()]
    text = "\n".join(lines)
    m = re.search(r"^routes\s*=\s*\((.*)\);", text, re.S | re.M)
    return set(re.findall(r'path\s*=\s*"([^"]+)"', m.group(1))) if m else set()


def main():
    conf = read(CONF)
    if sys.argv[1:] == ["--write-configmap"]:
        with open(CONFIGMAP, "w", encoding="utf-8") as f:
            f.write(configmap_text(conf))
        print("wrote " + os.path.relpath(CONFIGMAP, ROOT))
        return 0

    expose, user = dockerfile_facts()
    compose = yaml.safe_load(read(os.path.join(ROOT, "docker-compose.yml")))
    image = compose["services"]["lexiaid"]["image"]
    routes = conf_routes(conf)
    check(expose == [5000], "Dockerfile exposes 5000 (EXPOSE %s)" % expose)
    check(user and user[0].split(":")[0] in ("1000", "appuser"), "Dockerfile runs as uid 1000 (USER %s)" % user)
    check({"/health", "/ready"} <= routes, "etc/lexiaid.conf routes /health and /ready (%s)" % sorted(routes))

    docs = {}
    for dirpath, _, files in os.walk(K8S):
        for name in sorted(files):
            if name.endswith((".yaml", ".yml")):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, ROOT)
                try:
                    docs[rel] = load_all(path)
                    check(True, "%s parses" % rel)
                except yaml.YAMLError as e:
                    check(False, "%s parses: %s" % (rel, e))
    for rel, ds in docs.items():
        for d in ds:
            if "$patch" in d:
                continue
            check(isinstance(d, dict) and d.get("apiVersion") and d.get("kind"),
                  "%s: %s has apiVersion and kind" % (rel, d.get("kind") if isinstance(d, dict) else d))

    # kustomizations name files that exist
    for rel, ds in docs.items():
        if os.path.basename(rel) != "kustomization.yaml":
            continue
        base = os.path.dirname(os.path.join(ROOT, rel))
        for r in ds[0].get("resources", []) + [p["path"] for p in ds[0].get("patches", []) if "path" in p]:
            check(os.path.exists(os.path.join(base, r)), "%s: %s exists" % (rel, r))

    def find(kind, rel_prefix):
        return [(rel, d) for rel, ds in docs.items() if rel.startswith(rel_prefix)
                for d in ds if d.get("kind") == kind]

    deps = find("Deployment", "deploy/k8s/base/")
    if not check(len(deps) == 1, "one Deployment in base"):
        return finish()
    dep = deps[0][1]
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    check(spec["selector"]["matchLabels"].items() <= labels.items(), "selector matches the pod labels")
    check(spec.get("replicas") == 1 and spec.get("strategy", {}).get("type") == "Recreate",
          "SQLite variant: replicas 1, strategy Recreate")
    psc = pod.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 1000, "pod: runAsNonRoot, runAsUser 1000")
    c = [c for c in pod["containers"] if c["name"] == "lexiaid"]
    if not check(len(c) == 1, "container lexiaid"):
        return finish()
    c = c[0]
    check(c["image"].split(":")[0] == image.split(":")[0] and c["image"] == image,
          "image %s is compose's %s" % (c["image"], image))
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    check(list(ports.values()) == expose, "containerPort %s = EXPOSE %s" % (list(ports.values()), expose))
    for probe, want in (("startupProbe", "/health"), ("livenessProbe", "/health"), ("readinessProbe", "/ready")):
        p = c.get(probe, {}).get("httpGet", {})
        port = ports.get(p.get("port"), p.get("port"))
        check(p.get("path") == want and p.get("path") in routes and port in expose,
              "%s GET %s on %s (a route of etc/lexiaid.conf, the exposed port)" % (probe, p.get("path"), port))
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities drop ALL")
    check(sc.get("runAsNonRoot", True) and sc.get("runAsUser", 1000) == 1000, "container runs as 1000")
    res = c.get("resources", {})
    check(all(res.get(k, {}).get(r) for k in ("requests", "limits") for r in ("cpu", "memory")),
          "requests and limits for cpu and memory")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    check({"/app/data", "/app/logs", "/tmp"} <= mounts.keys(), "writable mounts for /app/data, /app/logs, /tmp")
    check(all(n in vols for n in mounts.values()), "every mount has a volume")
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    cfg = env.get("LEXIAID_CONFIG", "")
    check(os.path.dirname(cfg) in mounts and "configMap" in vols[mounts[os.path.dirname(cfg)]],
          "LEXIAID_CONFIG %s is in the ConfigMap mount" % cfg)
    cm_name = vols[mounts[os.path.dirname(cfg)]]["configMap"]["name"] if os.path.dirname(cfg) in mounts else None
    pvc_claim = vols.get(mounts.get("/app/data"), {}).get("persistentVolumeClaim", {}).get("claimName")
    check(any(d["metadata"]["name"] == pvc_claim for _, d in find("PersistentVolumeClaim", "deploy/k8s/base/")),
          "PVC %s for /app/data exists" % pvc_claim)
    for name, value in env.items():
        if name.endswith("_FILE"):
            check(os.path.dirname(value) in mounts, "%s points into a mounted volume" % name)

    cms = [d for _, d in find("ConfigMap", "deploy/k8s/base/") if d["metadata"]["name"] == cm_name]
    check(len(cms) == 1 and cms[0]["data"].get("lexiaid.conf") == conf,
          "ConfigMap %s holds etc/lexiaid.conf as it is (else run %s --write-configmap)"
          % (cm_name, os.path.relpath(__file__, ROOT)))
    check(read(CONFIGMAP) == configmap_text(conf), "configmap.yaml is exactly the generated text")

    svcs = find("Service", "deploy/k8s/base/")
    check(len(svcs) == 1 and svcs[0][1]["spec"]["selector"].items() <= labels.items()
          and all(p["targetPort"] in ports or p["targetPort"] in expose for p in svcs[0][1]["spec"]["ports"]),
          "Service selects the pods and targets the container port")
    secrets = find("Secret", "deploy/k8s/")
    sec_names = {d["metadata"]["name"] for _, d in secrets}
    check({v["secret"]["secretName"] for v in vols.values() if "secret" in v} <= sec_names,
          "secret.example.yaml has every Secret the Deployment mounts")
    sec = [d for _, d in secrets if d["metadata"]["name"] == "lexiaid-secrets"]
    keys = set(sec[0].get("stringData", {})) if sec else set()
    for name, value in env.items():
        if name.endswith("_FILE") and value.startswith("/run/secrets/lexiaid/"):
            check(os.path.basename(value) in keys, "Secret template has key %s" % os.path.basename(value))

    # the several-replica variant
    patch = load_all(os.path.join(K8S, "overlays", "postgres", "deployment-patch.yaml"))[0]
    check(patch["spec"]["replicas"] > 1 and patch["spec"]["strategy"]["type"] == "RollingUpdate",
          "postgres overlay: several replicas, RollingUpdate")
    penv = {e["name"]: e.get("value") for c2 in patch["spec"]["template"]["spec"]["containers"] for e in c2.get("env", [])}
    check("LEXIAID_DATABASE_URL_FILE" in penv and os.path.basename(penv["LEXIAID_DATABASE_URL_FILE"]) in keys,
          "postgres overlay: LEXIAID_DATABASE_URL from the Secret")
    pvols = {v["name"]: v for v in patch["spec"]["template"]["spec"].get("volumes", [])}
    check("emptyDir" in pvols.get("data", {}), "postgres overlay: no PVC for /app/data")
    return finish()


def finish():
    passed = sum(1 for ok, _ in results if ok)
    failed = len(results) - passed
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
