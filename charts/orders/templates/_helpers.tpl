{{/* Names and labels. */}}
{{- define "orders.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "orders.fullname" -}}
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

{{- define "orders.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "orders.labels" -}}
helm.sh/chart: {{ include "orders.chart" . }}
{{ include "orders.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: auth-orders
{{- end }}

{{- define "orders.selectorLabels" -}}
app.kubernetes.io/name: {{ include "orders.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The server pods (Deployment, Service, PDB, NetworkPolicy select these). */}}
{{- define "orders.serverSelectorLabels" -}}
{{ include "orders.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "orders.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "orders.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The hook Job runs before the release's ServiceAccount exists: it gets its own. */}}
{{- define "orders.migrationServiceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- printf "%s-migrations" (include "orders.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "orders.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}

{{/* The Secret with the database and Redis URLs. */}}
{{- define "orders.secretName" -}}
{{- default (include "orders.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* The migration hook reads the URL from the existing Secret, or from a hook Secret of its own
     (a release's ordinary Secret does not exist yet when pre-install hooks run). */}}
{{- define "orders.migrationSecretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-migrations" (include "orders.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Production must not run on a Secret rendered from chart values. */}}
{{- define "orders.validate" -}}
{{- if and (eq .Values.config.environment "production") (not .Values.secrets.existingSecret) }}
{{- fail "config.environment=production requires secrets.existingSecret (a Secret you create with the database and Redis URLs)" }}
{{- end }}
{{- end }}

{{/* Restricted pod settings shared by every pod of the chart. */}}
{{- define "orders.podSecurity" -}}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "orders.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{- define "orders.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Environment of every container that talks to the database. */}}
{{- define "orders.secretEnv" -}}
- name: ORDERS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "orders.secretName" . }}
      key: {{ .Values.secrets.databaseUrlKey }}
- name: ORDERS_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "orders.secretName" . }}
      key: {{ .Values.secrets.redisUrlKey }}
{{- end }}

{{- define "orders.terminationGracePeriodSeconds" -}}
{{- $s := .Values.shutdown }}
{{- add $s.preStopSleepSeconds $s.drainWindowSeconds $s.gracefulTimeoutSeconds $s.marginSeconds }}
{{- end }}
