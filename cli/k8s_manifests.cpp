#include "cli/k8s_manifests.hpp"

#include <yaml-cpp/yaml.h>

#include <sstream>

namespace troupe::cli {
namespace {

// A settings file's text (configs/*.yaml in the ConfigMap) with `key` set to `value`, in its
// line when it has one (its comment, the file's comments and order kept) or at the end; removed
// when `value` is empty.
std::string with_setting(const std::string& text, const std::string& key,
                         const std::optional<std::string>& value) {
  std::istringstream in(text);
  std::string out;
  std::string line;
  bool found = false;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      found = true;
      size_t comment = line.find(" #");  // the line's comment stays, spaces and all
      while (comment != std::string::npos && comment > 0 && line[comment - 1] == ' ') --comment;
      if (value)
        out +=
            key + ": " + *value + (comment == std::string::npos ? "" : line.substr(comment)) + "\n";
      continue;
    }
    out += line + "\n";
  }
  if (!found && value) out += key + ": " + *value + "\n";
  return out;
}

// Scalars keep their style: a quoted one stays quoted (a string that looks like a number), a
// multi-line one becomes a literal block (the settings files in the ConfigMap).
void emit(YAML::Emitter& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (const auto& entry : node) {
        out << YAML::Key;
        emit(out, entry.first);
        out << YAML::Value;
        emit(out, entry.second);
      }
      out << YAML::EndMap;
      return;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const auto& item : node) emit(out, item);
      out << YAML::EndSeq;
      return;
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (s.find('\n') != std::string::npos)
        out << YAML::Literal << s;
      else if (node.Tag() == "!")
        out << YAML::DoubleQuoted << s;
      else
        out << s;
      return;
    }
    default:
      out << YAML::Null;
  }
}

std::vector<YAML::Node> containers_of(YAML::Node object) {
  std::vector<YAML::Node> found;
  YAML::Node pod = object["spec"]["template"]["spec"];
  if (!pod) return found;
  for (const char* list : {"initContainers", "containers"}) {
    if (pod[list])
      for (YAML::Node c : pod[list]) found.push_back(c);
  }
  return found;
}

void set_env(YAML::Node container, const std::string& name, const std::string& value) {
  for (YAML::Node variable : container["env"]) {
    if (variable["name"].as<std::string>() == name) {
      variable["value"] = value;
      return;
    }
  }
  YAML::Node variable;
  variable["name"] = name;
  variable["value"] = value;
  container["env"].push_back(variable);
}

std::string mebibytes(int64_t bytes) {
  return std::to_string((bytes + (int64_t{1} << 20) - 1) >> 20) + "Mi";
}

void change_settings(YAML::Node config_map, const K8sOptions& o) {
  YAML::Node data = config_map["data"];
  std::string front = data["cluster-front.yaml"].as<std::string>();
  if (o.autoscale) {
    front = with_setting(front, "min-replicas", std::to_string(o.min_replicas));
    front = with_setting(front, "max-replicas", std::to_string(o.max_replicas));
  } else {
    for (const char* key :
         {"autoscale", "kube-statefulset", "min-replicas", "max-replicas", "autoscale-rules"})
      front = with_setting(front, key, std::nullopt);
  }
  data["cluster-front.yaml"] = front;
  if (o.kv_cache_memory > 0) {
    data["replica.yaml"] = with_setting(data["replica.yaml"].as<std::string>(), "kv-cache-memory",
                                        mebibytes(o.kv_cache_memory) + "B");
  }
}

void change_replicas(YAML::Node set, const K8sOptions& o) {
  if (!o.autoscale) set["spec"]["replicas"] = o.replicas;
  for (YAML::Node c : set["spec"]["template"]["spec"]["containers"]) {
    if (c["name"].as<std::string>() != "replica") continue;
    if (o.replica_memory_request > 0)
      c["resources"]["requests"]["memory"] = mebibytes(o.replica_memory_request);
    if (o.replica_memory_limit > 0)
      c["resources"]["limits"]["memory"] = mebibytes(o.replica_memory_limit);
    if (o.gpu) {
      c["resources"]["limits"]["nvidia.com/gpu"] = 1;
      set_env(c, "TROUPE_DEVICE", "cuda");
    }
  }
  if (o.gpu) {
    YAML::Node toleration;
    toleration["key"] = "nvidia.com/gpu";
    toleration["operator"] = "Exists";
    toleration["effect"] = "NoSchedule";
    set["spec"]["template"]["spec"]["tolerations"].push_back(toleration);
  }
}

}  // namespace

Result<std::string> render_k8s_manifests(const std::vector<ManifestFile>& base,
                                         const K8sOptions& o) {
  const auto file_text = [&](const std::string& name) -> const char* {
    for (const ManifestFile& f : base)
      if (name == f.name) return f.text;
    return nullptr;
  };
  const char* kustomization = file_text("kustomization.yaml");
  if (!kustomization) return make_error("the built-in manifests have no kustomization.yaml");
  std::ostringstream stream;
  stream << "# Written by `troupe deploy k8s`: troupe in namespace " << o.namespace_name << " ("
         << (o.autoscale ? "troupe's autoscaler between " + std::to_string(o.min_replicas) +
                               " and " + std::to_string(o.max_replicas) + " replicas"
                         : std::to_string(o.replicas) + " replicas")
         << (o.gpu ? ", one GPU each" : "") << "). deploy/k8s/README.md explains it.\n";
  try {
    for (const YAML::Node& resource : YAML::Load(kustomization)["resources"]) {
      const char* text = file_text(resource.as<std::string>());
      if (!text) return make_error("the built-in manifests lack " + resource.as<std::string>());
      for (YAML::Node object : YAML::LoadAll(text)) {
        const std::string kind = object["kind"].as<std::string>();
        // Without the autoscaler the front needs no access to the Kubernetes API.
        if (!o.autoscale && (kind == "Role" || kind == "RoleBinding")) continue;
        object["metadata"]["namespace"] = o.namespace_name;
        if (kind == "RoleBinding") {
          for (YAML::Node subject : object["subjects"])
            if (subject["kind"].as<std::string>() == "ServiceAccount")
              subject["namespace"] = o.namespace_name;
        }
        if (kind == "ConfigMap" && object["metadata"]["name"].as<std::string>() == "troupe-config")
          change_settings(object, o);
        if (kind == "StatefulSet") change_replicas(object, o);
        for (YAML::Node c : containers_of(object)) {
          c["image"] = o.image;
          if (!o.model_path.empty() && c["env"]) {
            for (YAML::Node variable : c["env"])
              if (variable["name"].as<std::string>() == "TROUPE_MODEL")
                variable["value"] = o.model_path;
          }
        }
        YAML::Emitter out;
        emit(out, object);
        stream << "---\n" << out.c_str() << "\n";
      }
    }
  } catch (const YAML::Exception& e) {
    return make_error(std::string("the built-in manifests do not parse: ") + e.what());
  }
  return stream.str();
}

}  // namespace troupe::cli
