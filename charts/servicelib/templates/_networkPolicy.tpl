{{/* NetworkPolicies: one per kind of pod, so every pod of a service chart is isolated.
     - server: in from the ingress controller, listed clients and this release's pods; out to
       DNS, PostgreSQL and what `<chart>.serverEgress` adds (orders: Redis and auth).
     - jobs: every other pod of the release that is not a server or a helm test (migration hook,
       CronJobs, whatever job a chart adds): nothing in; out to DNS and PostgreSQL only.
     - tests: the helm test pod: nothing in; out to DNS and the server pods only. */}}
{{- define "servicelib.networkPolicy" -}}
{{- if .Values.networkPolicy.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "servicelib.fullname" . }}
  labels:
    {{- include "servicelib.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "servicelib.serverSelectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    - from:
        # pods of this release (the helm test pod)
        - podSelector:
            matchLabels:
              app.kubernetes.io/instance: {{ .Release.Name }}
        {{- with .Values.networkPolicy.ingressControllers }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with .Values.networkPolicy.clients }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - port: http
          protocol: TCP
    {{- with .Values.networkPolicy.extraIngress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  egress:
    {{- include "servicelib.dnsEgress" . | nindent 4 }}
    {{- include "servicelib.postgresEgress" . | nindent 4 }}
    {{- include (printf "%s.serverEgress" .Chart.Name) . | nindent 4 }}
    {{- with .Values.networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ printf "%s-jobs" (include "servicelib.fullname" .) | trunc 63 | trimSuffix "-" }}
  labels:
    {{- include "servicelib.labels" . | nindent 4 }}
spec:
  # Selected by exclusion, so a Job or CronJob a chart adds later is isolated without an edit.
  podSelector:
    matchLabels:
      {{- include "servicelib.selectorLabels" . | nindent 6 }}
    matchExpressions:
      - key: app.kubernetes.io/component
        operator: NotIn
        values: [server, test]
  policyTypes:
    - Ingress
    - Egress
  ingress: []
  egress:
    {{- include "servicelib.dnsEgress" . | nindent 4 }}
    {{- include "servicelib.postgresEgress" . | nindent 4 }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ printf "%s-tests" (include "servicelib.fullname" .) | trunc 63 | trimSuffix "-" }}
  labels:
    {{- include "servicelib.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "servicelib.selectorLabels" . | nindent 6 }}
      app.kubernetes.io/component: test
  policyTypes:
    - Ingress
    - Egress
  ingress: []
  egress:
    {{- include "servicelib.dnsEgress" . | nindent 4 }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "servicelib.serverSelectorLabels" . | nindent 14 }}
      ports:
        - port: http
          protocol: TCP
{{- end }}
{{- end }}

{{- define "servicelib.dnsEgress" -}}
{{- with .Values.networkPolicy.dns }}
- to:
    {{- toYaml . | nindent 4 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}
{{- end }}

{{- define "servicelib.postgresEgress" -}}
- to:
    {{- toYaml .Values.networkPolicy.postgres.to | nindent 4 }}
  ports:
    - port: {{ .Values.networkPolicy.postgres.port }}
      protocol: TCP
{{- end }}
