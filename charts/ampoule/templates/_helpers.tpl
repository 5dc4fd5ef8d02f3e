{{- define "ampoule.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ampoule.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "ampoule.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /* ESO's namespaceOverride: every namespaced object goes there instead of the release's. */ -}}
{{- define "ampoule.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride -}}
{{- end -}}

{{- define "ampoule.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ampoule.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ampoule.labels" -}}
{{ include "ampoule.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "ampoule.serviceAccountName" -}}
{{- default (include "ampoule.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- /* ESO's global.repository replaces image.repository, as in ESO's chart. */ -}}
{{- define "ampoule.image" -}}
{{- $repository := default .Values.image.repository (dig "repository" "" (.Values.global | default dict)) -}}
{{- if eq $repository "ghcr.io/external-secrets/external-secrets" -}}
{{- /* ESO's own image (an ESO values file's default) cannot run this chart: Ampoule's instead. */ -}}
{{- $repository = "ghcr.io/ampoule-dev/ampoule" -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{ $repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ $repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{- define "ampoule.leaderElect" -}}
{{- if or .Values.leaderElect (gt (int .Values.replicaCount) 1) -}}true{{- else -}}false{{- end -}}
{{- end -}}

{{- /* The metrics port: ESO's metrics.listen.port when given, else metrics.port. */ -}}
{{- define "ampoule.metricsPort" -}}
{{- dig "listen" "port" .Values.metrics.port .Values.metrics -}}
{{- end -}}

{{- /* A pod or container securityContext given with ESO's `enabled` switch: nothing when
enabled is false, the rest without the switch otherwise. */ -}}
{{- define "ampoule.securityContext" -}}
{{- if ne (toString (dig "enabled" true .)) "false" -}}
{{- toYaml (omit . "enabled") -}}
{{- end -}}
{{- end -}}

{{- /* ESO's global.X fallback for a pod field X left empty. */ -}}
{{- define "ampoule.orGlobal" -}}
{{- $value := index .root.Values .key -}}
{{- if not $value -}}
{{- $value = dig .key nil (.root.Values.global | default dict) -}}
{{- end -}}
{{- with $value }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{- /* Whether a dotted key path is present in the values (ESO's keys are not in values.yaml, so
present means given). */ -}}
{{- define "ampoule.given" -}}
{{- $node := .root.Values -}}
{{- $found := true -}}
{{- range (splitList "." .path) -}}
{{- if and $found (kindIs "map" $node) (hasKey $node .) -}}
{{- $node = index $node . -}}
{{- else -}}
{{- $found = false -}}
{{- end -}}
{{- end -}}
{{- if $found }}true{{ end -}}
{{- end -}}
