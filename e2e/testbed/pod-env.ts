import type * as k8s from "@kubernetes/client-node";

/**
 * Resolves a container's environment the way the kubelet does: `envFrom`
 * first, then `env` in order, with `$(VAR)` references to earlier variables
 * expanded and values taken from Secrets, ConfigMaps and the pod's own fields.
 * A missing Secret or key that is not optional is an error that names it, so
 * the container waits with CreateContainerConfigError as on a real node.
 */
export async function resolvePodEnv(core: k8s.CoreV1Api, pod: k8s.V1Pod, container: k8s.V1Container, podIP: string): Promise<Record<string, string>> {
  const namespace = pod.metadata?.namespace ?? "default";
  const env: Record<string, string> = {};
  const secrets = new Map<string, Record<string, string> | undefined>();
  const configMaps = new Map<string, Record<string, string> | undefined>();

  const secretData = async (name: string, optional: boolean | undefined): Promise<Record<string, string> | undefined> => {
    if (!secrets.has(name)) {
      try {
        const s = await core.readNamespacedSecret({ name, namespace });
        const decoded: Record<string, string> = {};
        for (const [k, v] of Object.entries(s.data ?? {})) decoded[k] = Buffer.from(v, "base64").toString("utf8");
        for (const [k, v] of Object.entries(s.stringData ?? {})) decoded[k] = v;
        secrets.set(name, decoded);
      } catch (err) {
        if (!optional) throw new Error(`secret "${name}" not found`, { cause: err });
        secrets.set(name, undefined);
      }
    }
    return secrets.get(name);
  };
  const configMapData = async (name: string, optional: boolean | undefined): Promise<Record<string, string> | undefined> => {
    if (!configMaps.has(name)) {
      try {
        const cm = await core.readNamespacedConfigMap({ name, namespace });
        configMaps.set(name, { ...(cm.data ?? {}) });
      } catch (err) {
        if (!optional) throw new Error(`configmap "${name}" not found`, { cause: err });
        configMaps.set(name, undefined);
      }
    }
    return configMaps.get(name);
  };

  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? "";
    const data = from.secretRef
      ? await secretData(from.secretRef.name ?? "", from.secretRef.optional)
      : from.configMapRef
        ? await configMapData(from.configMapRef.name ?? "", from.configMapRef.optional)
        : undefined;
    for (const [k, v] of Object.entries(data ?? {})) env[prefix + k] = v;
  }

  for (const e of container.env ?? []) {
    if (e.value !== undefined) {
      env[e.name] = expand(e.value, env);
      continue;
    }
    const from = e.valueFrom;
    if (!from) {
      env[e.name] = "";
      continue;
    }
    if (from.secretKeyRef) {
      const ref = from.secretKeyRef;
      const data = await secretData(ref.name ?? "", ref.optional);
      const value = data?.[ref.key];
      if (value === undefined && !ref.optional) throw new Error(`couldn't find key ${ref.key} in Secret ${namespace}/${ref.name ?? ""}`);
      if (value !== undefined) env[e.name] = value;
    } else if (from.configMapKeyRef) {
      const ref = from.configMapKeyRef;
      const data = await configMapData(ref.name ?? "", ref.optional);
      const value = data?.[ref.key];
      if (value === undefined && !ref.optional) throw new Error(`couldn't find key ${ref.key} in ConfigMap ${namespace}/${ref.name ?? ""}`);
      if (value !== undefined) env[e.name] = value;
    } else if (from.fieldRef) {
      env[e.name] = fieldValue(pod, from.fieldRef.fieldPath, podIP);
    } else if (from.resourceFieldRef) {
      env[e.name] = resourceValue(container, from.resourceFieldRef.resource);
    }
  }
  return env;
}

/** Expands `$(NAME)` from earlier variables; `$$(NAME)` escapes to a literal `$(NAME)`, as in Kubernetes. */
export function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === "$$") return "$";
    return name !== undefined && name in env ? (env[name] ?? "") : match;
  });
}

/** The downward API's field paths. */
export function fieldValue(pod: k8s.V1Pod, path: string, podIP = "127.0.0.1"): string {
  const labelOrAnnotation = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (labelOrAnnotation) {
    const map = labelOrAnnotation[1] === "labels" ? pod.metadata?.labels : pod.metadata?.annotations;
    return map?.[labelOrAnnotation[2] ?? ""] ?? "";
  }
  switch (path) {
    case "metadata.name":
      return pod.metadata?.name ?? "";
    case "metadata.namespace":
      return pod.metadata?.namespace ?? "";
    case "metadata.uid":
      return pod.metadata?.uid ?? "";
    case "spec.nodeName":
      return pod.spec?.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec?.serviceAccountName ?? "";
    case "status.podIP":
    case "status.podIPs":
      return podIP;
    case "status.hostIP":
      return "127.0.0.1";
    default:
      throw new Error(`unsupported fieldRef ${path}`);
  }
}

function resourceValue(container: k8s.V1Container, resource: string): string {
  const [kind, name] = resource.split(".") as [string, string];
  const source = kind === "limits" ? container.resources?.limits : container.resources?.requests;
  return source?.[name] ?? "0";
}
