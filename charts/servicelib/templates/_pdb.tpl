{{- define "servicelib.pdb" -}}
{{- if .Values.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "servicelib.fullname" . }}
  labels:
    {{- include "servicelib.labels" . | nindent 4 }}
spec:
  # maxUnavailable (never minAvailable): a single replica can still be evicted by a drain.
  maxUnavailable: {{ .Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "servicelib.serverSelectorLabels" . | nindent 6 }}
{{- end }}

{{- end }}
