"""A small renderer for the part of kustomize that deploy/k8s uses, and nothing more.

kustomize itself is not packaged for Debian 12 or PyPI, so the deploy test renders the manifests
with this. It implements, with kustomize's meaning:

  apiVersion, kind   Kustomization (kustomize.config.k8s.io/v1beta1), or Component
                     (kustomize.config.k8s.io/v1alpha1) when listed under `components`
  resources          YAML files inside the kustomization's folder, and folders (relative paths)
                     holding a kustomization, rendered first
  components         folders holding a Component: its resources are added, then its own fields
                     act on everything accumulated so far
  patches            JSON 6902 patches only: each entry a `path` (a YAML or JSON list of
                     operations, inside the folder) and a `target` (group, version, kind, name,
                     namespace: exact values)
  namespace          sets metadata.namespace of every resource, and the namespace of RoleBinding
                     subjects that name a ServiceAccount of the output (subjects must then leave
                     their namespace out in the source)
  images             name, newName, newTag, digest, for the containers and init containers of
                     Deployments and StatefulSets

In kustomize's order: resources, components, patches, namespace, images. Anything else (another
field, a patch without a target, a strategic merge patch, a regular expression in a target, a kind
whose namespace fields it does not know) raises Unsupported, so that what the manifests use is
what this renders. The test compares its output with real kustomize's (kubectl kustomize) where
kubectl is installed.
"""
import copy
import os
import re

import jsonpatch
import yaml

KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
COMPONENT_API = "kustomize.config.k8s.io/v1alpha1"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
FIELDS = {"apiVersion", "kind", "resources", "components", "patches", "namespace", "images"}
PATCH_FIELDS = {"path", "target"}
TARGET_FIELDS = {"group", "version", "kind", "name", "namespace"}
IMAGE_FIELDS = {"name", "newName", "newTag", "digest"}
# Namespaced kinds whose namespace lives in metadata.namespace alone (plus RoleBinding subjects).
# Another kind may have more namespace fields (webhooks, APIServices ...): refused.
KNOWN_KINDS = {
    "ConfigMap", "Secret", "Service", "ServiceAccount", "Role", "RoleBinding", "Deployment",
    "StatefulSet", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ServiceMonitor",
}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet"}
REGEX_CHARACTERS = re.compile(r"[\\^$*+?()\[\]{}|]")


class Unsupported(Exception):
    """A kustomization uses something this renderer does not implement, or misuses it."""


def render(directory):
    """The resources of the kustomization in `directory`, as kustomize would output them."""
    return _render(os.path.abspath(directory), "Kustomization", set())


def _load_kustomization(directory):
    found = [name for name in KUSTOMIZATION_FILES
             if os.path.isfile(os.path.join(directory, name))]
    if len(found) != 1:
        raise Unsupported(f"{directory}: expected one kustomization file, found {found}")
    path = os.path.join(directory, found[0])
    with open(path) as f:
        document = yaml.safe_load(f)
    if not isinstance(document, dict):
        raise Unsupported(f"{path}: not a mapping")
    unknown = set(document) - FIELDS
    if unknown:
        raise Unsupported(f"{path}: fields not implemented here: {sorted(unknown)}")
    return path, document


def _inside(directory, relative, where):
    """The path of a file named by a kustomization, which must lie inside its folder."""
    if os.path.isabs(relative):
        raise Unsupported(f"{where}: absolute path {relative!r}")
    path = os.path.normpath(os.path.join(directory, relative))
    if os.path.commonpath([path, directory]) != directory:
        raise Unsupported(f"{where}: file {relative!r} is outside the kustomization's folder")
    return path


def _render(directory, expected_kind, seen):
    if directory in seen:
        raise Unsupported(f"{directory}: kustomizations include each other in a cycle")
    seen = seen | {directory}
    path, k = _load_kustomization(directory)
    api = COMPONENT_API if expected_kind == "Component" else KUSTOMIZE_API
    kind = k.get("kind", "Kustomization")
    if kind != expected_kind:
        raise Unsupported(f"{path}: kind {kind!r} where a {expected_kind} was expected")
    if k.get("apiVersion", api) != api:
        raise Unsupported(f"{path}: apiVersion {k.get('apiVersion')!r}, expected {api}")
    resources = []
    for entry in _list(k, "resources", path):
        resources.extend(_resource_entry(directory, entry, path, seen))
    _check_unique(resources, path)
    return _apply(directory, path, k, resources, seen)


def _apply(directory, path, k, resources, seen):
    """The kustomization's (or component's) own fields on the accumulated resources."""
    for entry in _list(k, "components", path):
        if not isinstance(entry, str) or os.path.isabs(entry) or "://" in entry:
            raise Unsupported(f"{path}: component {entry!r} is not a relative folder")
        component = os.path.normpath(os.path.join(directory, entry))
        if not os.path.isdir(component):
            raise Unsupported(f"{path}: component {entry!r} is not a folder")
        if component in seen:
            raise Unsupported(f"{component}: kustomizations include each other in a cycle")
        component_path, c = _load_kustomization(component)
        if c.get("kind") != "Component" or c.get("apiVersion") != COMPONENT_API:
            raise Unsupported(f"{component_path}: not a Component ({COMPONENT_API})")
        for item in _list(c, "resources", component_path):
            resources.extend(_resource_entry(component, item, component_path, seen))
        _check_unique(resources, component_path)
        resources = _apply(component, component_path, c, resources, seen | {component})
    for entry in _list(k, "patches", path):
        _patch(directory, path, entry, resources)
    if "namespace" in k:
        _set_namespace(k["namespace"], resources, path)
    for entry in _list(k, "images", path):
        _set_image(entry, resources, path)
    _check_unique(resources, path)
    return resources


def _list(k, field, path):
    value = k.get(field, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unsupported(f"{path}: {field} must be a list")
    return value


def _resource_entry(directory, entry, path, seen):
    if not isinstance(entry, str) or "://" in entry or entry.startswith("git@"):
        raise Unsupported(f"{path}: resource {entry!r} is not a local path")
    if os.path.isabs(entry):
        raise Unsupported(f"{path}: absolute path {entry!r} (kustomize refuses them)")
    target = os.path.normpath(os.path.join(directory, entry))
    if os.path.isdir(target):
        return _render(target, "Kustomization", seen)
    file_path = _inside(directory, entry, path)
    if not os.path.isfile(file_path):
        raise Unsupported(f"{path}: resource {entry!r} does not exist")
    with open(file_path) as f:
        documents = [d for d in yaml.safe_load_all(f) if d is not None]
    for document in documents:
        _check_resource(document, file_path)
    return documents


def _check_resource(resource, where):
    if not isinstance(resource, dict) or not {"apiVersion", "kind", "metadata"} <= set(resource):
        raise Unsupported(f"{where}: a document that is not a Kubernetes object")
    if resource["kind"] == "List" or resource["kind"].endswith("List"):
        raise Unsupported(f"{where}: List objects are not implemented here")
    if resource["kind"] not in KNOWN_KINDS:
        raise Unsupported(f"{where}: kind {resource['kind']} is not known to this renderer")
    if not resource["metadata"].get("name"):
        raise Unsupported(f"{where}: a {resource['kind']} without a name")
    if resource["kind"] in ("RoleBinding", "ClusterRoleBinding"):
        for subject in resource.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount" and "namespace" in subject:
                raise Unsupported(f"{where}: {resource['metadata']['name']}: give ServiceAccount "
                                  "subjects no namespace; the namespace field sets it")


def _group_version(resource):
    api_version = resource["apiVersion"]
    return tuple(api_version.split("/", 1)) if "/" in api_version else ("", api_version)


def identity(resource):
    """(group, kind, namespace, name): what kustomize keeps unique."""
    group, _ = _group_version(resource)
    metadata = resource["metadata"]
    return (group, resource["kind"], metadata.get("namespace", ""), metadata["name"])


def _check_unique(resources, where):
    seen = set()
    for resource in resources:
        key = identity(resource)
        if key in seen:
            raise Unsupported(f"{where}: {key} appears twice")
        seen.add(key)


def _patch(directory, path, entry, resources):
    if not isinstance(entry, dict) or set(entry) != PATCH_FIELDS:
        raise Unsupported(f"{path}: a patch must have exactly `path` and `target` "
                          f"(inline patches, options and untargeted patches are not implemented)")
    target = entry["target"]
    if not isinstance(target, dict) or not set(target) <= TARGET_FIELDS or "kind" not in target:
        raise Unsupported(f"{path}: a target takes {sorted(TARGET_FIELDS)}, with kind")
    for field, value in target.items():
        if not isinstance(value, str) or REGEX_CHARACTERS.search(value):
            raise Unsupported(f"{path}: target {field}: {value!r} (exact values only)")
    patch_path = _inside(directory, entry["path"], path)
    with open(patch_path) as f:
        operations = yaml.safe_load(f)
    if not isinstance(operations, list) or not all(
            isinstance(op, dict) and "op" in op and "path" in op for op in operations):
        raise Unsupported(f"{patch_path}: not a JSON 6902 patch (a list of operations); "
                          "strategic merge patches are not implemented here")
    patch = jsonpatch.JsonPatch(operations)
    matched = 0
    for index, resource in enumerate(resources):
        group, version = _group_version(resource)
        fields = {"group": group, "version": version, "kind": resource["kind"],
                  "name": resource["metadata"]["name"],
                  "namespace": resource["metadata"].get("namespace", "")}
        if all(fields[field] == value for field, value in target.items()):
            patched = patch.apply(copy.deepcopy(resource))
            _check_resource(patched, patch_path)
            resources[index] = patched
            matched += 1
    if matched == 0:
        raise Unsupported(f"{path}: the patch {entry['path']} matches no resource")


def _set_namespace(namespace, resources, path):
    if not isinstance(namespace, str) or not namespace:
        raise Unsupported(f"{path}: namespace must be a name")
    # ServiceAccounts of the output, by name, with the namespace they have before this step.
    accounts = {(r["metadata"]["name"], r["metadata"].get("namespace", ""))
                for r in resources if r["kind"] == "ServiceAccount"}
    for resource in resources:
        resource["metadata"]["namespace"] = namespace
        if resource["kind"] == "RoleBinding":
            for subject in resource.get("subjects") or []:
                if subject.get("kind") != "ServiceAccount":
                    continue
                if (subject["name"], subject.get("namespace", "")) in accounts:
                    subject["namespace"] = namespace


def _split_image(image):
    """(name, tag, digest) of an image reference."""
    name, digest = (image.split("@", 1) + [None])[:2]
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest


def _set_image(entry, resources, path):
    if not isinstance(entry, dict) or "name" not in entry or not set(entry) <= IMAGE_FIELDS:
        raise Unsupported(f"{path}: an images entry takes {sorted(IMAGE_FIELDS)}, with name")
    for resource in resources:
        spec = resource.get("spec", {})
        if resource["kind"] not in POD_TEMPLATE_KINDS:
            if "containers" in str(spec):
                raise Unsupported(f"{path}: images on a {resource['kind']} is not implemented")
            continue
        pod = spec["template"]["spec"]
        for container in pod.get("initContainers", []) + pod.get("containers", []):
            name, tag, digest = _split_image(container["image"])
            if name != entry["name"]:
                continue
            name = entry.get("newName", name)
            if "digest" in entry:
                tag, digest = None, entry["digest"]
            elif "newTag" in entry:
                tag, digest = str(entry["newTag"]), None
            container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
