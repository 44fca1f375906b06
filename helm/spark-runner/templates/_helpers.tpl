{{- define "spark-runner.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "spark-runner.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "spark-runner.labels" -}}
app.kubernetes.io/name: {{ include "spark-runner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "spark-runner.selector" -}}
app.kubernetes.io/name: {{ include "spark-runner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "spark-runner.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "spark-runner.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "spark-runner.secretName" -}}
{{- default (include "spark-runner.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "spark-runner.image" -}}
{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end -}}

{{/* Shared container environment: ConfigMap, Secret-backed variables and mounted files. */}}
{{- define "spark-runner.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "spark-runner.fullname" . }}
env:
  - name: DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ include "spark-runner.secretName" . }}
        key: databaseUrl
  - name: API_TOKENS_FILE
    value: /etc/spark-runner/secret/api-tokens.json
  {{- if or .Values.secrets.clustersYaml .Values.secrets.existingSecret }}
  - name: GATEWAY_CONFIG
    value: /etc/spark-runner/secret/clusters.yaml
  {{- end }}
volumeMounts:
  - name: secret-files
    mountPath: /etc/spark-runner/secret
    readOnly: true
  - name: data
    mountPath: /var/lib/spark-runner
{{- end -}}

{{- define "spark-runner.volumes" -}}
volumes:
  - name: secret-files
    secret:
      secretName: {{ include "spark-runner.secretName" . }}
      items:
        - key: api-tokens.json
          path: api-tokens.json
        {{- if or .Values.secrets.clustersYaml .Values.secrets.existingSecret }}
        - key: clusters.yaml
          path: clusters.yaml
        {{- end }}
  - name: data
    emptyDir: {}
{{- end -}}

{{- define "spark-runner.securityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 1000
  fsGroup: 1000
{{- end -}}
