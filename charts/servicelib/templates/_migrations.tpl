{{- define "servicelib.migrations" -}}
{{- if .Values.migrations.enabled }}
{{- /*
  Pre-install/pre-upgrade hook: the schema reaches Alembic head before any new pod starts.
  Hooks run before the release's ordinary objects exist, so whatever the Job needs (its
  ServiceAccount, and the database URL unless an existing Secret holds it) is a hook too,
  created first (lower weight) and removed once the hooks succeeded.
*/}}
{{- if .Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "servicelib.migrationServiceAccountName" . }}
  labels:
    {{- include "servicelib.labels" . | nindent 4 }}
    app.kubernetes.io/component: migrations
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-10"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
automountServiceAccountToken: false
---
{{- end }}
{{- if not .Values.secrets.existingSecret }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "servicelib.migrationSecretName" . }}
  labels:
    {{- include "servicelib.labels" . | nindent 4 }}
    app.kubernetes.io/component: migrations
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-10"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
type: Opaque
data:
  {{ .Values.secrets.databaseUrlKey }}: {{ .Values.secrets.databaseUrl | b64enc | quote }}
---
{{- end }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "%s-migrations" (include "servicelib.fullname" .) | trunc 63 | trimSuffix "-" }}
  labels:
    {{- include "servicelib.labels" . | nindent 4 }}
    app.kubernetes.io/component: migrations
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ .Values.migrations.backoffLimit }}
  activeDeadlineSeconds: {{ .Values.migrations.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "servicelib.labels" . | nindent 8 }}
        app.kubernetes.io/component: migrations
    spec:
      restartPolicy: Never
      serviceAccountName: {{ include "servicelib.migrationServiceAccountName" . }}
      {{- include "servicelib.podSecurity" . | nindent 6 }}
      containers:
        - name: migrations
          image: {{ include "servicelib.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          command: ["alembic", "-c", "/app/migrations/alembic.ini", "-n", {{ .Chart.Name | quote }}, "upgrade", "head"]
          env:
            - name: {{ include "servicelib.envPrefix" . }}_DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: {{ include "servicelib.migrationSecretName" . }}
                  key: {{ .Values.secrets.databaseUrlKey }}
          resources:
            {{- toYaml .Values.migrations.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            {{- include "servicelib.tmpMount" . | nindent 12 }}
      volumes:
        {{- include "servicelib.tmpVolume" . | nindent 8 }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{- end }}
