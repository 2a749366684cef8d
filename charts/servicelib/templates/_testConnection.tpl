{{- define "servicelib.testConnection" -}}
{{- /* `helm test`: from inside the cluster, through the Service, the paths listed by
       `<chart>.testPaths` (one per line) answer 2xx. Uses the service's own image (Python, no
       shell tools needed). */}}
apiVersion: v1
kind: Pod
metadata:
  name: {{ printf "%s-test-connection" (include "servicelib.fullname" .) | trunc 63 | trimSuffix "-" }}
  labels:
    {{- include "servicelib.labels" . | nindent 4 }}
    app.kubernetes.io/component: test
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  restartPolicy: Never
  serviceAccountName: {{ include "servicelib.serviceAccountName" . }}
  {{- include "servicelib.podSecurity" . | nindent 2 }}
  containers:
    - name: test
      image: {{ include "servicelib.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command:
        - python
        - -c
        - |
          import sys, urllib.request
          for url in sys.argv[1:]:
              with urllib.request.urlopen(url, timeout=5) as response:
                  print(url, response.status)
      args:
        {{- range (include (printf "%s.testPaths" $.Chart.Name) $ | splitList "\n") }}
        - http://{{ include "servicelib.fullname" $ }}:{{ $.Values.service.port }}{{ . }}
        {{- end }}
      resources:
        {{- toYaml .Values.testResources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        {{- include "servicelib.tmpMount" . | nindent 8 }}
  volumes:
    {{- include "servicelib.tmpVolume" . | nindent 4 }}

{{- end }}
