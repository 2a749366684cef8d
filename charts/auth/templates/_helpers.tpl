{{/* What is auth's own; everything else comes from the servicelib library chart. */}}

{{/* Short names for the library's helpers, used by auth's own templates (CronJobs, ConfigMap). */}}
{{- define "auth.fullname" -}}{{ include "servicelib.fullname" . }}{{- end }}
{{- define "auth.labels" -}}{{ include "servicelib.labels" . }}{{- end }}
{{- define "auth.serviceAccountName" -}}{{ include "servicelib.serviceAccountName" . }}{{- end }}
{{- define "auth.image" -}}{{ include "servicelib.image" . }}{{- end }}
{{- define "auth.podSecurity" -}}{{ include "servicelib.podSecurity" . }}{{- end }}
{{- define "auth.tmpVolume" -}}{{ include "servicelib.tmpVolume" . }}{{- end }}
{{- define "auth.tmpMount" -}}{{ include "servicelib.tmpMount" . }}{{- end }}
{{- define "auth.secretName" -}}{{ include "servicelib.secretName" . }}{{- end }}

{{/* What the Secret holds (named in the production error). */}}
{{- define "auth.secretContents" -}}
the database URL and the key-encryption key
{{- end }}

{{/* The Secret's data beside the database URL. */}}
{{- define "auth.secretData" -}}
{{ .Values.secrets.keyEncryptionKeyKey }}: {{ include "auth.keyEncryptionKeyData" . | quote }}
{{- end }}

{{/* The key-encryption key, base64-encoded once more for the Secret's data: the value given,
     else the one already in the cluster (kept across upgrades), else 32 fresh random bytes. */}}
{{- define "auth.keyEncryptionKeyData" -}}
{{- if .Values.secrets.keyEncryptionKey }}
{{- .Values.secrets.keyEncryptionKey | b64enc }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "servicelib.fullname" .) }}
{{- $data := dig "data" .Values.secrets.keyEncryptionKeyKey "" ($existing | default dict) }}
{{- if $data }}
{{- $data }}
{{- else }}
{{- randBytes 32 | b64enc }}
{{- end }}
{{- end }}
{{- end }}

{{/* Environment of every container that talks to the database. */}}
{{- define "auth.secretEnv" -}}
- name: AUTH_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "servicelib.secretName" . }}
      key: {{ .Values.secrets.databaseUrlKey }}
- name: AUTH_KEY_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "servicelib.secretName" . }}
      key: {{ .Values.secrets.keyEncryptionKeyKey }}
{{- end }}

{{/* Egress of the server pods beyond DNS and PostgreSQL: none. */}}
{{- define "auth.serverEgress" -}}
{{- end }}

{{/* Paths `helm test` checks through the Service, one per line. */}}
{{- define "auth.testPaths" -}}
/health/ready
/.well-known/jwks.json
{{- end }}
