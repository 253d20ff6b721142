{{- define "lifeboat.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "lifeboat.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "lifeboat.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "lifeboat.serviceAccountName" -}}
{{- default (include "lifeboat.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "lifeboat.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- /* What the ServiceMonitor selects the metrics Service by. */ -}}
{{- define "lifeboat.metricsServiceLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: metrics
{{- end -}}

{{- /*
The namespaces the operator watches, comma-separated and sorted; empty for
all. watchNamespaces, plus the deprecated single watchNamespace.
*/ -}}
{{- define "lifeboat.watchNamespaces" -}}
{{- $namespaces := concat (.Values.watchNamespaces | default list) (list .Values.watchNamespace) | compact | uniq | sortAlpha -}}
{{- join "," $namespaces -}}
{{- end -}}
