{{- define "servicelib.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "servicelib.fullname" . }}
  labels:
    {{- include "servicelib.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  selector:
    {{- include "servicelib.serverSelectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP

{{- end }}
