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

{{/*
How every container reaches Temporal beyond the ConfigMap: the TLS files of temporalTls.secretName and the API
key of temporalApiKey.secretName, as the TEMPORAL_TLS_* and TEMPORAL_API_KEY variables. Takes the chart context.
*/}}
{{- define "spark-runner.temporalEnv" -}}
{{- $tls := .Values.temporalTls -}}
{{- if $tls.secretName }}
{{- if $tls.caKey }}
- name: TEMPORAL_TLS_SERVER_CA_CERT_PATH
  value: /etc/spark-runner/temporal-tls/{{ $tls.caKey }}
{{- end }}
{{- if $tls.certKey }}
- name: TEMPORAL_TLS_CLIENT_CERT_PATH
  value: /etc/spark-runner/temporal-tls/{{ $tls.certKey }}
- name: TEMPORAL_TLS_CLIENT_KEY_PATH
  value: /etc/spark-runner/temporal-tls/{{ $tls.keyKey }}
{{- end }}
{{- end }}
{{- with .Values.temporalApiKey }}
{{- if .secretName }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "spark-runner.temporalTlsMount" -}}
{{- if .Values.temporalTls.secretName }}
- name: temporal-tls
  mountPath: /etc/spark-runner/temporal-tls
  readOnly: true
{{- end }}
{{- end -}}

{{- define "spark-runner.temporalTlsVolume" -}}
{{- if .Values.temporalTls.secretName }}
- name: temporal-tls
  secret:
    secretName: {{ .Values.temporalTls.secretName }}
{{- end }}
{{- end -}}

{{/*
Shared container environment: ConfigMap, Secret-backed variables, mounted files, and a component's extra
variables. Takes a dict: root (the chart context) and env (list of {name, value}).
*/}}
{{- define "spark-runner.env" -}}
{{- $root := .root -}}
envFrom:
  - configMapRef:
      name: {{ include "spark-runner.fullname" $root }}
env:
  - name: DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ include "spark-runner.secretName" $root }}
        key: databaseUrl
  - name: API_TOKENS_FILE
    value: /etc/spark-runner/secret/api-tokens.json
  {{- if or $root.Values.secrets.clustersYaml $root.Values.secrets.existingSecret }}
  - name: GATEWAY_CONFIG
    value: /etc/spark-runner/secret/clusters.yaml
  {{- end }}
  {{- with (include "spark-runner.temporalEnv" $root) }}{{ . | trim | nindent 2 }}{{- end }}
  {{- with .env }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
volumeMounts:
  - name: secret-files
    mountPath: /etc/spark-runner/secret
    readOnly: true
  - name: data
    mountPath: /var/lib/spark-runner
  # The root filesystem is read-only; scratch space for Node and its libraries.
  - name: tmp
    mountPath: /tmp
  {{- with (include "spark-runner.temporalTlsMount" $root) }}{{ . | trim | nindent 2 }}{{- end }}
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
  - name: tmp
    emptyDir: {}
  {{- with (include "spark-runner.temporalTlsVolume" .) }}{{ . | trim | nindent 2 }}{{- end }}
{{- end -}}

{{- define "spark-runner.securityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 1000
  fsGroup: 1000
{{- end -}}

{{/*
A Deployment for one of the image's entry points. Takes a dict:
  root       the chart context ($)
  component  api | worker | watcher (name suffix, label, container name)
  script     the entry point in the image's /app, run as `node <script>`
  values     the component's values (replicaCount, resources, optional autoscaling)
  port       container port serving /healthz and /readyz (0: none)
  env        extra container environment (list of {name, value})
*/}}
{{- define "spark-runner.deployment" -}}
{{- $root := .root -}}
{{- $v := .values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "spark-runner.fullname" $root }}-{{ .component }}
  labels:
    {{- include "spark-runner.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not (and $v.autoscaling $v.autoscaling.enabled) }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "spark-runner.selector" $root | nindent 6 }}
      app.kubernetes.io/component: {{ .component }}
  template:
    metadata:
      labels:
        {{- include "spark-runner.selector" $root | nindent 8 }}
        app.kubernetes.io/component: {{ .component }}
      annotations:
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
    spec:
      serviceAccountName: {{ include "spark-runner.serviceAccountName" $root }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets: {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- include "spark-runner.securityContext" $root | nindent 6 }}
      containers:
        - name: {{ .component }}
          image: {{ include "spark-runner.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: [node]
          args: [{{ .script }}]
          {{- include "spark-runner.env" (dict "root" $root "env" .env) | nindent 10 }}
          resources: {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: { drop: [ALL] }
          {{- if .port }}
          ports:
            - name: http
              containerPort: {{ .port }}
          # Both endpoints check their dependencies with a 3 s deadline: give them longer than the 1 s default.
          livenessProbe:
            httpGet: { path: /healthz, port: http }
            periodSeconds: 10
            timeoutSeconds: 5
          readinessProbe:
            httpGet: { path: /readyz, port: http }
            periodSeconds: 5
            timeoutSeconds: 5
          {{- else if .metricsPort }}
          {{- /* A process with no health endpoint (the worker) but a Prometheus listener. */}}
          ports:
            - name: metrics
              containerPort: {{ .metricsPort }}
            {{- if .coreMetricsPort }}
            {{- /* Temporal's own metrics, from the worker's Temporal Core (TEMPORAL_CORE_METRICS_ADDRESS). */}}
            - name: core-metrics
              containerPort: {{ .coreMetricsPort }}
            {{- end }}
          {{- end }}
      {{- include "spark-runner.volumes" $root | nindent 6 }}
{{- end -}}

{{/* A map of Java system properties as `-Dkey=value` options, sorted by key (SPARK_HISTORY_OPTS). */}}
{{- define "spark-runner.javaOpts" -}}
{{- $opts := list -}}
{{- range $k, $v := . }}{{ $opts = append $opts (printf "-D%s=%v" $k $v) }}{{ end -}}
{{- join " " $opts -}}
{{- end -}}
