#!/usr/bin/python3
"""Checks that the deployment files agree with the binary and with each other.

Parses docker/k8s/*.yaml, docker/compose.yml, docker/compose.bucket.yml,
docker/hlsgate.env.example and docker/Dockerfile, and cross-checks them against what the real
binary says about itself (`hlsgate --help`, `--version`, and a running instance):

- every environment variable a manifest sets is one hlsgate reads (a variable renamed in the
  code or in a manifest fails here), and the required ones are all set;
- ports: LISTEN, EXPOSE, containerPort, Service targetPort, compose's published ports;
- probe paths exist: listed by --help and answering 200 on a running hlsgate;
- image name: docker/build.sh, the Deployment, kustomize and compose all use hlsgate:VERSION;
- user, read-only root, preStop pause, grace periods, HPA/PDB/Service selectors.

usage: test_manifests.py PATH/TO/hlsgate       (needs python3-yaml)"""
import copy
import glob
import os
import re
import subprocess
import sys
import urllib.parse

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from harness import Runner, eq, free_port, http, ok, wait_port  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
DOCKER = os.path.join(REPO, "docker")
K8S = os.path.join(DOCKER, "k8s")


# ---- what the binary says -----------------------------------------------------------------------

def run_bin(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_", "VULTR_"))}
    r = subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=10)
    eq(r.returncode, 0, "%s %s exit status" % (BIN, " ".join(args)))
    return r.stdout


HELP = run_bin("--help")
VERSION = run_bin("--version").split()[-1]


def help_settings(text):
    """{NAME: {"default": str|None, "required": bool, "aliases": [...]}} from --help."""
    out = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^\s+--[a-z0-9-]+\s+([A-Z][A-Z0-9_]+)\s*$", line)
        if not m:
            continue
        desc = lines[i + 1] if i + 1 < len(lines) else ""
        d = re.search(r"\[default ([^\]]*)\]", desc)
        out[m.group(1)] = {
            "default": d.group(1) if d else None,
            "required": "(required" in desc,
            "aliases": re.findall(r"also read from ([A-Z][A-Z0-9_]+)", desc),
        }
    return out


SETTINGS = help_settings(HELP)
ENV_NAMES = set(SETTINGS) | {a for s in SETTINGS.values() for a in s["aliases"]}
ENDPOINTS = re.search(r"^Endpoints:(.*)$", HELP, re.M)
ENDPOINT_PATHS = set(re.findall(r"(/[a-z][a-z0-9-]*)", ENDPOINTS.group(1))) if ENDPOINTS else set()
IMAGE = "hlsgate:%s" % VERSION


def listen_port(value):
    m = re.match(r"^(?:\[[^\]]*\]|[^:]*):(\d+)$", value or "")
    ok(m, "LISTEN value %r has a port" % value)
    return int(m.group(1))


DEFAULT_PORT = listen_port(SETTINGS.get("LISTEN", {}).get("default"))


# ---- the files ----------------------------------------------------------------------------------

def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def k8s_objects():
    objs = {}
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        for d in load_docs(path):
            ok(isinstance(d, dict) and "kind" in d, "%s: a Kubernetes object or kustomization" % path)
            name = d.get("metadata", {}).get("name", "")
            objs[(d["kind"], name)] = dict(d, _file=os.path.basename(path))
    return objs


def one(objs, kind):
    found = [v for (k, _), v in objs.items() if k == kind]
    eq(len(found), 1, "number of %s objects" % kind)
    return found[0]


def env_file(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                k, sep, v = line.partition("=")
                ok(sep, "%s: KEY=VALUE line: %r" % (path, line))
                out[k.strip()] = v.strip()
    return out


def dockerfile_final_stage(path):
    """Instructions of the last stage: {"EXPOSE": [...], "USER": ..., ...} (last wins)."""
    text = open(path).read().replace("\\\n", " ")
    stages = re.split(r"^FROM\s", text, flags=re.M)
    last = stages[-1]
    out = {"EXPOSE": [], "ENV": {}, "COPY": []}
    for line in last.splitlines():
        m = re.match(r"^([A-Z]+)\s+(.*)$", line.strip())
        if not m:
            continue
        ins, arg = m.group(1), m.group(2).strip()
        if ins == "EXPOSE":
            out["EXPOSE"] += [int(p.split("/")[0]) for p in arg.split()]
        elif ins == "ENV":
            for k, v in re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", arg):
                out["ENV"][k] = v
        elif ins == "COPY":
            out["COPY"].append(arg)
        else:
            out[ins] = arg
    return out


def dockerfile_targets(path):
    return set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", open(path).read(), re.M | re.I))


def unknown_env(names):
    """Names hlsgate does not read (what a renamed variable turns into)."""
    return sorted(set(names) - ENV_NAMES)


def missing_required(names):
    missing = []
    for n, s in SETTINGS.items():
        if s["required"] and n not in names and not any(a in names for a in s["aliases"]):
            missing.append(n)
    return missing


OBJS = k8s_objects()
DEPLOY = one(OBJS, "Deployment")
POD = DEPLOY["spec"]["template"]["spec"]
CONTAINER = [c for c in POD["containers"] if c["name"] == "hlsgate"][0]
CONFIGMAP = one(OBJS, "ConfigMap")
SECRET = one(OBJS, "Secret")
SERVICE = one(OBJS, "Service")
DF = dockerfile_final_stage(os.path.join(DOCKER, "Dockerfile"))
COMPOSE = load_docs(os.path.join(DOCKER, "compose.yml"))[0]
COMPOSE_BUCKET = load_docs(os.path.join(DOCKER, "compose.bucket.yml"))[0]


def deployment_env_names(deploy, objs):
    """Every variable the Deployment's hlsgate container gets: env, envFrom ConfigMap/Secret."""
    c = [c for c in deploy["spec"]["template"]["spec"]["containers"] if c["name"] == "hlsgate"][0]
    names = [e["name"] for e in c.get("env", [])]
    for src in c.get("envFrom", []):
        if "configMapRef" in src:
            cm = objs.get(("ConfigMap", src["configMapRef"]["name"]))
            ok(cm, "envFrom ConfigMap %s is in docker/k8s" % src["configMapRef"]["name"])
            names += list(cm.get("data", {}))
        if "secretRef" in src:
            sec = objs.get(("Secret", src["secretRef"]["name"]))
            ok(sec, "envFrom Secret %s is in docker/k8s" % src["secretRef"]["name"])
            names += list(sec.get("stringData", {})) + list(sec.get("data", {}))
    return names


def deployment_env(deploy, objs):
    c = [c for c in deploy["spec"]["template"]["spec"]["containers"] if c["name"] == "hlsgate"][0]
    env = {}
    for src in c.get("envFrom", []):
        if "configMapRef" in src:
            env.update(objs[("ConfigMap", src["configMapRef"]["name"])].get("data", {}))
        if "secretRef" in src:
            env.update(objs[("Secret", src["secretRef"]["name"])].get("stringData", {}))
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
    return env


# ---- tests --------------------------------------------------------------------------------------

def test_binary_lists_settings_and_probes():
    ok(len(SETTINGS) >= 20, "--help lists the settings: %s" % sorted(SETTINGS))
    for n in ("LISTEN", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "DRAIN_TIMEOUT_MS"):
        ok(n in SETTINGS, "--help lists %s" % n)
    ok({"/healthz", "/readyz"} <= ENDPOINT_PATHS, "--help lists the probe paths: %s" % ENDPOINT_PATHS)
    ok("--healthcheck" in HELP, "--help documents --healthcheck")
    ok(re.search(r"^\s+TOKEN_SECRET=HEX \S+ token --acl PATTERN", HELP, re.M), "--help documents the token subcommand")
    ok("--version" in HELP, "--help documents --version")
    ok({"/hls", "/hls-seg", "/metrics"} <= ENDPOINT_PATHS, "--help lists every endpoint: %s" % ENDPOINT_PATHS)
    print("     binary %s: %d settings, endpoints %s" % (VERSION, len(SETTINGS), sorted(ENDPOINT_PATHS)))


def test_cli_errors_and_probe_without_s3():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_", "VULTR_"))}
    # a wrong port is called a wrong port, not a wrong address
    r = subprocess.run([BIN], env=dict(env, LISTEN="127.0.0.1:99999", S3_BUCKET="b", S3_ACCESS_KEY_ID="a",
                                       S3_SECRET_ACCESS_KEY="s"), capture_output=True, text=True, timeout=10)
    eq(r.returncode, 2, "exit status for LISTEN=127.0.0.1:99999")
    ok("port must be a number from 0 to 65535" in r.stderr and "numeric" not in r.stderr,
       "message names the port: %s" % r.stderr.strip())
    # --healthcheck with no S3 settings and nothing listening: a failed probe (1), not a
    # configuration error (2)
    r = subprocess.run([BIN, "--healthcheck"], env=dict(env, LISTEN="127.0.0.1:%d" % free_port()),
                       capture_output=True, text=True, timeout=10)
    eq(r.returncode, 1, "--healthcheck without S3 settings, nothing listening: %s" % r.stderr.strip())
    ok("configuration error" not in r.stderr, "no configuration error: %s" % r.stderr.strip())


def test_all_yaml_parses():
    files = sorted(glob.glob(os.path.join(K8S, "*.yaml"))) + [
        os.path.join(DOCKER, "compose.yml"), os.path.join(DOCKER, "compose.bucket.yml")]
    for path in files:
        docs = load_docs(path)
        ok(docs, "%s has a document" % path)
    kinds = sorted(k for k, _ in OBJS)
    for k in ("ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Kustomization",
              "PodDisruptionBudget", "Secret", "Service"):
        ok(k in kinds, "docker/k8s has a %s (%s)" % (k, kinds))


def test_k8s_env_names_are_read_by_hlsgate():
    names = deployment_env_names(DEPLOY, OBJS)
    eq(unknown_env(names), [], "variables in the Deployment/ConfigMap/Secret that hlsgate does not read")
    eq(missing_required(names), [], "required variables missing from the ConfigMap/Secret")
    secret_keys = set(SECRET.get("stringData", {})) | set(SECRET.get("data", {}))
    ok({"S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"} <= secret_keys, "credentials in the Secret")
    ok(not ({"S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_SESSION_TOKEN"} & set(CONFIGMAP["data"])),
       "no credentials in the ConfigMap")
    for k, v in CONFIGMAP["data"].items():
        ok(isinstance(v, str), "ConfigMap value of %s is a string (quote numbers): %r" % (k, v))


def test_renamed_variable_is_caught():
    # The check above must notice a variable hlsgate does not know: rename one in a copy.
    objs = copy.deepcopy(OBJS)
    cm = objs[("ConfigMap", CONFIGMAP["metadata"]["name"])]
    cm["data"]["S3_BUCKETNAME"] = cm["data"].pop("S3_BUCKET")
    names = deployment_env_names(objs[("Deployment", DEPLOY["metadata"]["name"])], objs)
    eq(unknown_env(names), ["S3_BUCKETNAME"], "renamed variable reported")
    eq(missing_required(names), ["S3_BUCKET"], "and the required one reported missing")


def test_ports_agree():
    env = deployment_env(DEPLOY, OBJS)
    port = listen_port(env["LISTEN"]) if "LISTEN" in env else DEFAULT_PORT
    eq(DF["EXPOSE"], [DEFAULT_PORT], "Dockerfile EXPOSE vs hlsgate's default LISTEN port")
    eq(port, DEFAULT_PORT, "LISTEN port in the ConfigMap")
    ports = {p["name"]: p["containerPort"] for p in CONTAINER["ports"]}
    eq(ports.get("http"), port, "containerPort named http")
    for sp in SERVICE["spec"]["ports"]:
        tp = sp["targetPort"]
        eq(ports.get(tp, tp), port, "Service targetPort %r" % tp)


def probe_port(probe):
    ports = {p["name"]: p["containerPort"] for p in CONTAINER["ports"]}
    p = probe["httpGet"]["port"]
    return ports.get(p, p)


def test_probes_point_at_real_endpoints():
    eq(CONTAINER["readinessProbe"]["httpGet"]["path"], "/readyz", "readiness path")
    eq(CONTAINER["livenessProbe"]["httpGet"]["path"], "/healthz", "liveness path")
    for kind in ("readinessProbe", "livenessProbe"):
        probe = CONTAINER[kind]
        ok(probe["httpGet"]["path"] in ENDPOINT_PATHS, "%s path is an hlsgate endpoint" % kind)
        eq(probe_port(probe), DEFAULT_PORT, "%s port" % kind)
    ok("--healthcheck" in DF["HEALTHCHECK"], "Dockerfile HEALTHCHECK runs hlsgate --healthcheck")
    # and they answer 200 on the real binary
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_", "VULTR_"))}
    env.update(LISTEN="127.0.0.1:%d" % port, WORKERS="1", S3_BUCKET="b", S3_ACCESS_KEY_ID="a",
               S3_SECRET_ACCESS_KEY="s", S3_ENDPOINT="http://127.0.0.1:9")
    proc = subprocess.Popen([BIN], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc=proc)
        for kind in ("readinessProbe", "livenessProbe"):
            st, _, _ = http(port, "GET", CONTAINER[kind]["httpGet"]["path"])
            eq(st, 200, "%s answers" % kind)
        r = subprocess.run([BIN, "--healthcheck"], env=env, capture_output=True, timeout=10)
        eq(r.returncode, 0, "hlsgate --healthcheck against the running binary")
        # the probe needs LISTEN only: no S3 settings in a HEALTHCHECK's environment
        bare = {k: v for k, v in env.items() if not k.startswith(("S3_", "AWS_", "VULTR_"))}
        r = subprocess.run([BIN, "--healthcheck"], env=bare, capture_output=True, text=True, timeout=10)
        eq(r.returncode, 0, "hlsgate --healthcheck without S3 settings: %s" % r.stderr.strip())
    finally:
        proc.terminate()
        eq(proc.wait(15), 0, "exit status after SIGTERM")


def test_image_name_agrees():
    r = subprocess.run(["bash", os.path.join(DOCKER, "build.sh"), "--print-image"],
                       capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "IMAGE"})
    eq(r.returncode, 0, "build.sh --print-image")
    eq(r.stdout.strip(), IMAGE, "docker/build.sh image vs hlsgate --version")
    eq(CONTAINER["image"], IMAGE, "Deployment image")
    kust = one(OBJS, "Kustomization")
    for res in kust["resources"]:
        ok(os.path.exists(os.path.join(K8S, res)), "kustomization resource %s exists" % res)
    listed = {os.path.basename(p) for p in glob.glob(os.path.join(K8S, "*.yaml"))} - {"kustomization.yaml"}
    eq(set(kust["resources"]), listed, "kustomization lists every manifest")
    img = [i for i in kust.get("images", []) if i["name"] == IMAGE.split(":")[0]]
    eq(len(img), 1, "kustomize images entry for hlsgate")
    eq(img[0].get("newTag"), VERSION, "kustomize newTag")
    eq(COMPOSE["services"]["hlsgate"]["image"], IMAGE, "compose.yml hlsgate image")
    eq(COMPOSE_BUCKET["services"]["hlsgate"]["image"], IMAGE, "compose.bucket.yml hlsgate image")
    for f, c in (("compose.yml", COMPOSE), ("compose.bucket.yml", COMPOSE_BUCKET)):
        b = c["services"]["hlsgate"]["build"]
        ok(os.path.exists(os.path.join(DOCKER, b["context"], b["dockerfile"])), "%s: Dockerfile exists" % f)
        eq(os.path.normpath(os.path.join(DOCKER, b["context"], b["dockerfile"])),
           os.path.join(DOCKER, "Dockerfile"), "%s builds docker/Dockerfile" % f)
    ok(re.search(r"-t hlsgate:%s\b" % re.escape(VERSION), open(os.path.join(DOCKER, "Dockerfile")).read()),
       "the build command in the Dockerfile's header names %s" % IMAGE)


def test_security_settings_agree():
    uid = int(DF["USER"].split(":")[0])
    ok(uid != 0, "Dockerfile USER is not root")
    psc, csc = POD.get("securityContext", {}), CONTAINER.get("securityContext", {})
    eq(psc.get("runAsNonRoot"), True, "pod runAsNonRoot")
    eq(csc.get("readOnlyRootFilesystem"), True, "readOnlyRootFilesystem")
    eq(csc.get("allowPrivilegeEscalation"), False, "allowPrivilegeEscalation")
    eq(csc.get("capabilities", {}).get("drop"), ["ALL"], "capabilities dropped")
    for sc in (psc, csc):
        if "runAsUser" in sc:
            eq(sc["runAsUser"], uid, "runAsUser vs Dockerfile USER")
    eq(COMPOSE["services"]["hlsgate"].get("read_only"), True, "compose hlsgate read_only")
    eq(str(COMPOSE["services"]["hlsgate"].get("user")).split(":")[0], str(uid), "compose hlsgate user")
    ok(DF["ENTRYPOINT"].startswith('["/usr/bin/tini"'), "tini is PID 1 (reaps, forwards SIGTERM)")


def duration_s(v):
    m = re.match(r"^(\d+)(ms|s|m)?$", str(v))
    ok(m, "duration %r" % v)
    n = int(m.group(1))
    return {"ms": n / 1000, "s": n, "m": n * 60, None: n}[m.group(2)]


def test_drain_fits_grace_periods():
    env = deployment_env(DEPLOY, OBJS)
    drain = int(env.get("DRAIN_TIMEOUT_MS", SETTINGS["DRAIN_TIMEOUT_MS"]["default"])) / 1000
    cmd = CONTAINER["lifecycle"]["preStop"]["exec"]["command"]
    eq(cmd[0], "/bin/sleep", "preStop pause")
    pause = int(cmd[1])
    ok(pause >= 5, "preStop pause long enough for load balancers (%ss)" % pause)
    grace = POD["terminationGracePeriodSeconds"]
    ok(grace > pause + drain, "terminationGracePeriodSeconds %s > preStop %s + drain %s" % (grace, pause, drain))
    svc = COMPOSE["services"]["hlsgate"]
    cdrain = int(svc["environment"].get("DRAIN_TIMEOUT_MS", SETTINGS["DRAIN_TIMEOUT_MS"]["default"])) / 1000
    ok(duration_s(svc["stop_grace_period"]) > cdrain, "compose stop_grace_period > DRAIN_TIMEOUT_MS")


def test_workers_match_cpu_limit():
    env = deployment_env(DEPLOY, OBJS)
    ok("WORKERS" in env, "WORKERS set (the default is every core of the node)")
    lim = str(CONTAINER["resources"]["limits"]["cpu"])
    cores = int(lim[:-1]) / 1000 if lim.endswith("m") else float(lim)
    ok(int(env["WORKERS"]) <= max(1, round(cores)), "WORKERS %s <= CPU limit %s" % (env["WORKERS"], lim))
    for k in ("cpu", "memory"):
        ok(k in CONTAINER["resources"]["requests"] and k in CONTAINER["resources"]["limits"],
           "requests and limits for %s" % k)


def test_replicas_service_hpa_pdb():
    eq(DEPLOY["spec"]["replicas"], 3, "replicas")
    labels = DEPLOY["spec"]["template"]["metadata"]["labels"]
    sel = DEPLOY["spec"]["selector"]["matchLabels"]
    ok(all(labels.get(k) == v for k, v in sel.items()), "Deployment selector matches its pods")
    ok(all(labels.get(k) == v for k, v in SERVICE["spec"]["selector"].items()), "Service selects the pods")
    hpa = one(OBJS, "HorizontalPodAutoscaler")
    eq(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment", "HPA target kind")
    eq(hpa["spec"]["scaleTargetRef"]["name"], DEPLOY["metadata"]["name"], "HPA target")
    ok(any(m.get("resource", {}).get("name") == "cpu" for m in hpa["spec"]["metrics"]), "HPA on CPU")
    ok(hpa["spec"]["minReplicas"] >= 2, "HPA keeps at least 2 replicas")
    ok("cpu" in CONTAINER["resources"]["requests"], "CPU request (HPA utilization needs it)")
    pdb = one(OBJS, "PodDisruptionBudget")
    ok(all(labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items()), "PDB selects the pods")
    ok("maxUnavailable" in pdb["spec"] or "minAvailable" in pdb["spec"], "PDB budget")


def test_compose_demo_stack():
    svcs = COMPOSE["services"]
    ok({"s3", "seed", "hlsgate", "player"} <= set(svcs), "services: %s" % sorted(svcs))
    hg = svcs["hlsgate"]
    env = {k: str(v) for k, v in hg["environment"].items()}
    eq(unknown_env(env), [], "compose hlsgate variables hlsgate does not read")
    eq(missing_required(env), [], "compose hlsgate required variables")
    # the namespace owner publishes hlsgate's port, the player's and the S3's
    owner = hg.get("network_mode", "").split("service:")[-1] if "service:" in hg.get("network_mode", "") else "hlsgate"
    published = {}
    for p in svcs[owner].get("ports", []):
        parts = str(p).split(":")
        published[int(parts[-1])] = (parts[0] if len(parts) == 3 else "0.0.0.0", int(parts[-2]))
    port = listen_port(env.get("LISTEN")) if "LISTEN" in env else DEFAULT_PORT
    ok(port in published, "hlsgate port %d published by %s" % (port, owner))
    # presigned URLs carry S3_ENDPOINT's host: the browser must reach the S3 at that same address
    ep = urllib.parse.urlsplit(env["S3_ENDPOINT"])
    s3port = ep.port
    ok(s3port in published, "S3 port %s published" % s3port)
    eq(published[s3port], (ep.hostname, s3port), "S3 published on the host:port of S3_ENDPOINT")
    eq(str(svcs["s3"]["environment"]["S3_PORT"]), str(s3port), "s3 service port")
    # the seed uploads where hlsgate reads, with the keys hlsgate signs with
    seed = {k: str(v) for k, v in svcs["seed"]["environment"].items()}
    eq(seed["SEED_BUCKET"], env["S3_BUCKET"], "seed bucket")
    ok(seed["SEED_PREFIX"].startswith(env.get("S3_KEY_PREFIX", "") + "/"), "seed prefix inside S3_KEY_PREFIX")
    eq(seed["RGW_ACCESS_KEY"], env["S3_ACCESS_KEY_ID"], "seed access key")
    eq(seed["RGW_SECRET_KEY"], env["S3_SECRET_ACCESS_KEY"], "seed secret key")
    eq(seed["RGW_ENDPOINT"], env["S3_ENDPOINT"], "seed endpoint")
    eq(str(svcs["s3"]["environment"]["RGW_ACCESS_KEY"]), env["S3_ACCESS_KEY_ID"], "s3 access key")
    ppl = str(svcs["player"]["environment"]["PLAYER_PORT"])
    ok(int(ppl) in published, "player port published")
    # every build target exists
    for name, s in svcs.items():
        b = s.get("build")
        if b and "target" in b:
            df = os.path.join(DOCKER, b["context"], b["dockerfile"])
            ok(b["target"] in dockerfile_targets(df), "%s: target %s in %s" % (name, b["target"], df))
        for dep in (s.get("depends_on") or {}):
            ok(dep in svcs, "%s depends on a known service %s" % (name, dep))


def test_compose_bucket_and_env_example():
    hg = COMPOSE_BUCKET["services"]["hlsgate"]
    eq(hg["env_file"], "hlsgate.env", "env file")
    ex = env_file(os.path.join(DOCKER, "hlsgate.env.example"))
    eq(unknown_env(ex), [], "hlsgate.env.example variables hlsgate does not read")
    eq(missing_required(ex), [], "hlsgate.env.example required variables")
    port = listen_port(ex.get("LISTEN")) if "LISTEN" in ex else DEFAULT_PORT
    ok(any(str(p).endswith(":%d" % port) for p in hg["ports"]), "compose.bucket.yml publishes %d" % port)
    for name, s in COMPOSE_BUCKET["services"].items():
        b = s.get("build")
        if b and "target" in b:
            ok(b["target"] in dockerfile_targets(os.path.join(DOCKER, b["context"], b["dockerfile"])),
               "%s build target" % name)
    eq(unknown_env(DF["ENV"]), [], "ENV in the Dockerfile")


if __name__ == "__main__":
    r = Runner("docker.manifests")
    for fn in (test_binary_lists_settings_and_probes, test_all_yaml_parses,
               test_k8s_env_names_are_read_by_hlsgate, test_renamed_variable_is_caught,
               test_ports_agree, test_probes_point_at_real_endpoints, test_image_name_agrees,
               test_security_settings_agree, test_drain_fits_grace_periods,
               test_workers_match_cpu_limit, test_replicas_service_hpa_pdb,
               test_compose_demo_stack, test_compose_bucket_and_env_example):
        r.run(fn)
    r.finish()
