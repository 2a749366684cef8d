{{/* Names, labels and the pod settings every object of a service chart shares. Every template
     takes the including chart's root context; names derive from that chart's .Chart.Name. */}}
{{- define "servicelib.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "servicelib.fullname" -}}
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

{{- define "servicelib.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of the app's settings: AUTH_, ORDERS_. */}}
{{- define "servicelib.envPrefix" -}}
{{- .Chart.Name | upper | replace "-" "_" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "servicelib.labels" -}}
helm.sh/chart: {{ include "servicelib.chart" . }}
{{ include "servicelib.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: auth-orders
{{- end }}

{{- define "servicelib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "servicelib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The server pods (Deployment, Service, PDB, NetworkPolicy select these). */}}
{{- define "servicelib.serverSelectorLabels" -}}
{{ include "servicelib.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "servicelib.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "servicelib.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The hook Job runs before the release's ServiceAccount exists: it gets its own. */}}
{{- define "servicelib.migrationServiceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- printf "%s-migrations" (include "servicelib.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* `repo:tag`, `repo:tag@sha256:...` or `repo@sha256:...`: a digest pins the image whatever
     the tag says; the tag defaults to the chart's appVersion only when no digest is given. */}}
{{- define "servicelib.image" -}}
{{- $image := .Values.image }}
{{- if and $image.digest $image.tag }}
{{- printf "%s:%s@%s" $image.repository $image.tag $image.digest }}
{{- else if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{- define "servicelib.secretName" -}}
{{- default (include "servicelib.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* The migration hook reads the URL from the existing Secret, or from a hook Secret of its own
     (a release's ordinary Secret does not exist yet when pre-install hooks run). */}}
{{- define "servicelib.migrationSecretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-migrations" (include "servicelib.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Production must not run on a Secret rendered from chart values. `<chart>.secretContents`
     names what the Secret holds. */}}
{{- define "servicelib.validate" -}}
{{- if and (eq .Values.config.environment "production") (not .Values.secrets.existingSecret) }}
{{- fail (printf "config.environment=production requires secrets.existingSecret (a Secret you create with %s)" (include (printf "%s.secretContents" .Chart.Name) .)) }}
{{- end }}
{{- end }}

{{/* Restricted pod settings shared by every pod of the chart. */}}
{{- define "servicelib.podSecurity" -}}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "servicelib.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{- define "servicelib.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{- define "servicelib.terminationGracePeriodSeconds" -}}
{{- $s := .Values.shutdown }}
{{- add $s.preStopSleepSeconds $s.drainWindowSeconds $s.gracefulTimeoutSeconds $s.marginSeconds }}
{{- end }}
