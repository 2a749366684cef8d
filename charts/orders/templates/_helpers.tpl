{{/* What is orders' own; everything else comes from the servicelib library chart. */}}

{{/* Short names for the library's helpers, used by orders' own templates (ConfigMap, CronJobs). */}}
{{- define "orders.fullname" -}}{{ include "servicelib.fullname" . }}{{- end }}
{{- define "orders.labels" -}}{{ include "servicelib.labels" . }}{{- end }}
{{- define "orders.serviceAccountName" -}}{{ include "servicelib.serviceAccountName" . }}{{- end }}
{{- define "orders.image" -}}{{ include "servicelib.image" . }}{{- end }}
{{- define "orders.podSecurity" -}}{{ include "servicelib.podSecurity" . }}{{- end }}
{{- define "orders.tmpVolume" -}}{{ include "servicelib.tmpVolume" . }}{{- end }}
{{- define "orders.tmpMount" -}}{{ include "servicelib.tmpMount" . }}{{- end }}
{{- define "orders.secretName" -}}{{ include "servicelib.secretName" . }}{{- end }}

{{/* What the Secret holds (named in the production error). */}}
{{- define "orders.secretContents" -}}
the database and Redis URLs and the cursor key
{{- end }}

{{/* The Secret's data beside the database URL. */}}
{{- define "orders.secretData" -}}
{{ .Values.secrets.redisUrlKey }}: {{ .Values.secrets.redisUrl | b64enc | quote }}
{{ .Values.secrets.cursorSecretKey }}: {{ include "orders.cursorSecretData" . | quote }}
{{- end }}

{{/* The cursor HMAC key for the Secret's data: the value given, else the one already in the
     cluster (kept across upgrades, so cursors held by clients stay valid), else 32 random bytes. */}}
{{- define "orders.cursorSecretData" -}}
{{- if .Values.secrets.cursorSecret }}
{{- .Values.secrets.cursorSecret | b64enc }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "servicelib.fullname" .) }}
{{- $data := dig "data" .Values.secrets.cursorSecretKey "" ($existing | default dict) }}
{{- if $data }}
{{- $data }}
{{- else }}
{{- randBytes 32 | b64enc | b64enc }}
{{- end }}
{{- end }}
{{- end }}

{{/* Environment of every container that talks to the database and Redis. */}}
{{- define "orders.secretEnv" -}}
- name: ORDERS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "servicelib.secretName" . }}
      key: {{ .Values.secrets.databaseUrlKey }}
- name: ORDERS_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "servicelib.secretName" . }}
      key: {{ .Values.secrets.redisUrlKey }}
- name: ORDERS_CURSOR_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "servicelib.secretName" . }}
      key: {{ .Values.secrets.cursorSecretKey }}
{{- end }}

{{/* Egress of the server pods beyond DNS and PostgreSQL: Redis, and auth's JWKS (tokens are
     verified against it). */}}
{{- define "orders.serverEgress" -}}
- to:
    {{- toYaml .Values.networkPolicy.redis.to | nindent 4 }}
  ports:
    - port: {{ .Values.networkPolicy.redis.port }}
      protocol: TCP
- to:
    {{- toYaml .Values.networkPolicy.auth.to | nindent 4 }}
  ports:
    - port: {{ .Values.networkPolicy.auth.port }}
      protocol: TCP
{{- end }}

{{/* Paths `helm test` checks through the Service, one per line. */}}
{{- define "orders.testPaths" -}}
/health/ready
/health/live
{{- end }}
