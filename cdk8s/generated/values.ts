// Generated from charts/lifeboat/values.schema.json by `npm run generate`. Do not edit.
import type { V1Affinity, V1NetworkPolicyEgressRule, V1NetworkPolicyPeer, V1PodSecurityContext, V1ResourceRequirements, V1SecurityContext, V1Toleration, V1Volume } from "@kubernetes/client-node";

/**
 * Values of the lifeboat chart (charts/lifeboat/values.yaml documents each).
 */
export interface LifeboatValues {
  image?: {
    repository: string;
    tag?: string;
    pullPolicy?: "Always" | "IfNotPresent" | "Never";
  };
  imagePullSecrets?: {
    name: string;
  }[];
  replicaCount?: number;
  leaderElection?: {
    enabled?: boolean;
  };
  podDisruptionBudget?: {
    enabled?: boolean;
    minAvailable?: number | string;
  };
  probes?: {
    liveness?: Probe;
    readiness?: Probe;
  };
  vaultVolumes?: {
    namespace: string;
    claimName: string;
    volume: Omit<V1Volume, "name">;
  }[];
  extraCACertificates?: {
    configMapName?: string;
    key?: string;
  };
  watchNamespaces?: string[];
  /**
   * @deprecated
   * Deprecated: one namespace, added to watchNamespaces.
   */
  watchNamespace?: string;
  logLevel?: "trace" | "debug" | "info" | "warn" | "error" | "fatal";
  serviceAccount?: {
    create?: boolean;
    name?: string;
    annotations?: {
      [k: string]: string;
    };
  };
  metrics?: {
    port?: number;
    bindPodIP?: boolean;
    service?: {
      enabled?: boolean;
      type?: "ClusterIP" | "NodePort" | "LoadBalancer";
    };
    serviceMonitor?: {
      enabled?: boolean;
      labels?: {
        [k: string]: string;
      };
      interval?: string;
      scrapeTimeout?: string;
    };
    prometheusRule?: {
      enabled?: boolean;
      labels?: {
        [k: string]: string;
      };
    };
    grafanaDashboard?: {
      enabled?: boolean;
      sidecarLabel?: string;
      sidecarLabelValue?: string;
      labels?: {
        [k: string]: string;
      };
      annotations?: {
        [k: string]: string;
      };
      namespace?: string;
    };
  };
  networkPolicy?: {
    enabled?: boolean;
    metrics?: {
      from?: V1NetworkPolicyPeer[];
    };
    workers?: {
      namespaces?: string[];
      metricsFrom?: V1NetworkPolicyPeer[];
      restrictEgress?: boolean;
      egress?: V1NetworkPolicyEgressRule[];
    };
  };
  resources?: V1ResourceRequirements;
  podAnnotations?: {
    [k: string]: string;
  };
  podLabels?: {
    [k: string]: string;
  };
  nodeSelector?: {
    [k: string]: string;
  };
  tolerations?: V1Toleration[];
  affinity?: V1Affinity;
  priorityClassName?: string;
  podSecurityContext?: V1PodSecurityContext;
  securityContext?: V1SecurityContext;
}
export interface Probe {
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}
