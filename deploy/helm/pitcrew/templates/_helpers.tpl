{{/* The release's name for its objects: the release name when it already says pitcrew. */}}
{{- define "pitcrew.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pitcrew.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pitcrew.labels" -}}
{{ include "pitcrew.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "pitcrew.configMap" -}}
{{- .Values.config.existingConfigMap | default (printf "%s-config" (include "pitcrew.fullname" .)) -}}
{{- end -}}

{{- define "pitcrew.policyConfigMap" -}}
{{- .Values.policy.existingConfigMap | default (printf "%s-policy" (include "pitcrew.fullname" .)) -}}
{{- end -}}

{{/*
What the schema cannot say, refused with what to do instead. Included by the Deployment, so
`helm install`, `helm upgrade` and `helm template` all stop here.
*/}}
{{- define "pitcrew.validate" -}}
{{- $v := .Values -}}
{{- if and (eq $v.database.type "sqlite") (gt (int $v.replicas) 1) -}}
{{- fail (printf "database.type=sqlite keeps the audit trail on one pod's volume, so replicas must be 1 (got %d): set replicas=1, or use database.type=postgres for 2 or more replicas" (int $v.replicas)) -}}
{{- end -}}
{{- if and (eq $v.slack.mode "socket") $v.ingress.enabled -}}
{{- fail "slack.mode=socket: pitcrew connects to Slack itself and needs no Ingress; set ingress.enabled=false (or slack.mode=http)" -}}
{{- end -}}
{{- if and $v.ingress.enabled (not $v.ingress.host) -}}
{{- fail "ingress.enabled=true needs ingress.host (the name Slack calls, e.g. pitcrew.example.com)" -}}
{{- end -}}
{{- if not $v.config.existingConfigMap -}}
{{- if not $v.config.toml -}}
{{- fail "config.toml is empty: give pitcrew's configuration inline (config.toml) or name a ConfigMap holding pitcrew.toml (config.existingConfigMap)" -}}
{{- end -}}
{{- if regexMatch "xox[abpr]-[0-9A-Za-z-]+|xapp-[0-9A-Za-z-]+|[a-z]+://[^/\\s:@]+:[^/\\s@]+@" $v.config.toml -}}
{{- fail "config.toml holds a secret (a Slack token or a URL with a password): secrets go in an existing Secret (secrets.existingSecrets, database.postgres.urlSecret), never in values" -}}
{{- end -}}
{{- $toml := fromToml $v.config.toml -}}
{{- if hasKey $toml "Error" -}}
{{- fail (printf "config.toml is not valid TOML: %s" $toml.Error) -}}
{{- end -}}
{{- $mode := (get (get $toml "server" | default dict) "mode") | default "http" -}}
{{- if ne $mode $v.slack.mode -}}
{{- fail (printf "config.toml says [server] mode = %q but slack.mode is %q: make them the same (slack.mode decides whether a Service is made)" $mode $v.slack.mode) -}}
{{- end -}}
{{- end -}}
{{- if and (not $v.policy.existingConfigMap) (not $v.policy.csv) -}}
{{- fail "policy.csv is empty: give the policy inline (policy.csv) or name a ConfigMap holding policy.csv and model.conf (policy.existingConfigMap)" -}}
{{- end -}}
{{- end -}}
