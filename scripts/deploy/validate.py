"""Validates deploy/ without Docker or Kubernetes: YAML syntax, Kubernetes resources against the Kubernetes
schemas (kubernetes-validate), KEDA resources against deploy/schemas/keda-scaledobject.schema.json (jsonschema),
that every environment variable the files give our containers is one the executables read, and that the workers'
termination grace exceeds their job grace period. Exits non-zero with one line per problem."""
import glob, json, os, re, sys

import jsonschema
import kubernetes_validate
import yaml

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
problems = []
KUBERNETES_VERSION = os.environ.get("KUBERNETES_VERSION", "1.33")

# What the executables read: Environment's accessors and the few direct reads.
read = set()
for path in glob.glob(os.path.join(root, "Sources", "**", "*.swift"), recursive=True):
    text = open(path).read()
    read.update(re.findall(r'environment\.(?:optional|required|int|seconds|switch)\(\s*"([A-Z0-9_]+)"', text))
    read.update(re.findall(r'processInfo\.environment\["([A-Z0-9_]+)"\]', text))
    read.update(re.findall(r'\burl\(\s*"([A-Z0-9_]+)"\)', text))  # OAuthConfiguration's required URLs
if "DATABASE_URL" not in read or "REDIS_URL" not in read:
    problems.append("could not find the variables the executables read (DATABASE_URL, REDIS_URL missing)")

def check_variables(names, where):
    for name in sorted(set(names) - read):
        problems.append(f"{where}: sets {name}, which no executable reads")

documents = []
for path in sorted(glob.glob(os.path.join(root, "deploy", "**", "*.yaml"), recursive=True)):
    relative = os.path.relpath(path, root)
    try:
        loaded = [doc for doc in yaml.safe_load_all(open(path)) if doc is not None]
    except yaml.YAMLError as error:
        problems.append(f"{relative}: not valid YAML: {error}")
        continue
    documents += [(relative, doc) for doc in loaded]

# Compose: our image's services may only set variables we read.
for relative, doc in documents:
    if "services" not in doc:
        continue
    for name, service in doc["services"].items():
        if service.get("image", "").startswith("flowpos/ecommerce"):
            check_variables((service.get("environment") or {}).keys(), f"{relative} service {name}")
        if name == "worker":
            grace = re.match(r"(\d+)s", str(service.get("stop_grace_period", "0s")))
            if not grace or int(grace.group(1)) <= 20:
                problems.append(f"{relative}: the worker's stop_grace_period must exceed WORKER_SHUTDOWN_GRACE_SECONDS (20)")

# Kubernetes and KEDA.
keda_schema = json.load(open(os.path.join(root, "deploy", "schemas", "keda-scaledobject.schema.json")))
config_maps, secrets, kinds = {}, {}, []
for relative, doc in documents:
    if "apiVersion" not in doc:
        continue
    kinds.append(doc["kind"])
    name = f"{relative} {doc['kind']}/{doc.get('metadata', {}).get('name')}"
    if doc["apiVersion"].startswith("keda.sh/"):
        try:
            jsonschema.validate(doc, keda_schema)
        except jsonschema.ValidationError as error:
            problems.append(f"{name}: {error.message} at {'/'.join(map(str, error.absolute_path))}")
        continue
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        problems.append(f"{name}: {error.message} at {'/'.join(map(str, error.path))}")
    if doc["kind"] == "ConfigMap":
        config_maps[doc["metadata"]["name"]] = doc.get("data", {})
    if doc["kind"] == "Secret":
        secrets[doc["metadata"]["name"]] = {**doc.get("stringData", {}), **doc.get("data", {})}

for relative, doc in documents:
    template = doc.get("spec", {}).get("template", {}).get("spec") if isinstance(doc.get("spec"), dict) else None
    if not template:
        continue
    for container in template.get("containers", []):
        if not str(container.get("image", "")).startswith("flowpos/ecommerce"):
            continue
        where = f"{relative} {doc['kind']}/{doc['metadata']['name']} container {container['name']}"
        names = [entry["name"] for entry in container.get("env", [])]
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                names += config_maps.get(source["configMapRef"]["name"], {}).keys()
            if "secretRef" in source:
                names += secrets.get(source["secretRef"]["name"], {}).keys()
        check_variables(names, where)
        if "/ecommerce-worker" in " ".join(container.get("command", [])) and "run" in container.get("command", []):
            job_grace = int(config_maps.get("ecommerce-config", {}).get("WORKER_SHUTDOWN_GRACE_SECONDS", "20"))
            if template.get("terminationGracePeriodSeconds", 30) <= job_grace:
                problems.append(f"{where}: terminationGracePeriodSeconds must exceed WORKER_SHUTDOWN_GRACE_SECONDS ({job_grace})")

for kind in ["Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Job", "ConfigMap", "Secret", "ScaledObject"]:
    if kind not in kinds:
        problems.append(f"deploy/k8s: no {kind}")

if problems:
    print("\n".join("deploy: " + problem for problem in problems))
    sys.exit(1)
print(f"deploy: {len(documents)} YAML documents valid (Kubernetes {KUBERNETES_VERSION} schemas, KEDA schema); "
      f"every variable set is one of the {len(read)} the executables read")
