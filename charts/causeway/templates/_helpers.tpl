{{/*
Names, labels and the few values every template shares.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "causeway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name (resource names): fullnameOverride, else the release name when
it already contains the chart name ("causeway"), else "<release>-<name>".
*/}}
{{- define "causeway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Names of cluster-scoped objects (ClusterRoles, ClusterRoleBindings): the full name and
the release namespace, so releases of the same name in two namespaces never share one.
*/}}
{{- define "causeway.clusterName" -}}
{{- printf "%s-%s" (include "causeway.fullname" .) .Release.Namespace }}
{{- end }}

{{/* "<chart>-<version>" for the helm.sh/chart label. */}}
{{- define "causeway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "causeway.labels" -}}
helm.sh/chart: {{ include "causeway.chart" . }}
{{ include "causeway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: causeway
{{- end }}

{{/* Labels that select the operator's pod (never change them: selectors are immutable). */}}
{{- define "causeway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "causeway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The operator's service account. */}}
{{- define "causeway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "causeway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest, else repository:tag (tag defaults to appVersion). */}}
{{- define "causeway.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The operator config file's text: the ConfigMap holds it, checksum/config hashes it. */}}
{{- define "causeway.configYaml" -}}
{{- toYaml .Values.config }}
{{- end }}

{{/* Fixed ports: the operator's command line names them (templates/deployment.yaml). */}}
{{- define "causeway.healthPort" -}}8080{{- end }}
{{- define "causeway.metricsPort" -}}9090{{- end }}

{{/* The leader-election Lease's name. */}}
{{- define "causeway.leaseName" -}}
{{- .Values.leaderElection.leaseName | default (printf "%s-leader" (include "causeway.fullname" .)) -}}
{{- end }}
