{{- define "servicelib.secret" -}}
{{- if not .Values.secrets.existingSecret }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "servicelib.fullname" . }}
  labels:
    {{- include "servicelib.labels" . | nindent 4 }}
type: Opaque
data:
  {{ .Values.secrets.databaseUrlKey }}: {{ .Values.secrets.databaseUrl | b64enc | quote }}
  {{- include (printf "%s.secretData" .Chart.Name) . | nindent 2 }}
{{- end }}

{{- end }}
