{{/* Names and labels. */}}
{{- define "auth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "auth.fullname" -}}
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

{{- define "auth.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "auth.labels" -}}
helm.sh/chart: {{ include "auth.chart" . }}
{{ include "auth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: auth-orders
{{- end }}

{{- define "auth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "auth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The server pods (Deployment, Service, PDB, NetworkPolicy select these). */}}
{{- define "auth.serverSelectorLabels" -}}
{{ include "auth.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "auth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "auth.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The hook Job runs before the release's ServiceAccount exists: it gets its own. */}}
{{- define "auth.migrationServiceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- printf "%s-migrations" (include "auth.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "auth.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}

{{/* The Secret with the database URL and the key-encryption key. */}}
{{- define "auth.secretName" -}}
{{- default (include "auth.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* The migration hook reads the URL from the existing Secret, or from a hook Secret of its own
     (a release's ordinary Secret does not exist yet when pre-install hooks run). */}}
{{- define "auth.migrationSecretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-migrations" (include "auth.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The key-encryption key, base64-encoded once more for the Secret's data: the value given,
     else the one already in the cluster (kept across upgrades), else 32 fresh random bytes. */}}
{{- define "auth.keyEncryptionKeyData" -}}
{{- if .Values.secrets.keyEncryptionKey }}
{{- .Values.secrets.keyEncryptionKey | b64enc }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "auth.fullname" .) }}
{{- $data := dig "data" .Values.secrets.keyEncryptionKeyKey "" ($existing | default dict) }}
{{- if $data }}
{{- $data }}
{{- else }}
{{- randBytes 32 | b64enc }}
{{- end }}
{{- end }}
{{- end }}

{{/* Production must not run on a Secret rendered from chart values. */}}
{{- define "auth.validate" -}}
{{- if and (eq .Values.config.environment "production") (not .Values.secrets.existingSecret) }}
{{- fail "config.environment=production requires secrets.existingSecret (a Secret you create with the database URL and the key-encryption key)" }}
{{- end }}
{{- end }}

{{/* Restricted pod settings shared by every pod of the chart. */}}
{{- define "auth.podSecurity" -}}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "auth.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{- define "auth.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Environment of every container that talks to the database. */}}
{{- define "auth.secretEnv" -}}
- name: AUTH_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "auth.secretName" . }}
      key: {{ .Values.secrets.databaseUrlKey }}
- name: AUTH_KEY_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "auth.secretName" . }}
      key: {{ .Values.secrets.keyEncryptionKeyKey }}
{{- end }}

{{- define "auth.terminationGracePeriodSeconds" -}}
{{- $s := .Values.shutdown }}
{{- add $s.preStopSleepSeconds $s.drainWindowSeconds $s.gracefulTimeoutSeconds $s.marginSeconds }}
{{- end }}
