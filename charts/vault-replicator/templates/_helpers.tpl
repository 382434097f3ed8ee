{{/* The base of every name: vault-replicator, as in k8s/ (nameOverride changes it). */}}
{{- define "vr.base" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* A name as the kustomize overlays spell it: base, part, suffix (vault-replicator-export-failback). */}}
{{- define "vr.name" -}}
{{- $root := index . 0 -}}{{- $part := index . 1 -}}
{{- $name := include "vr.base" $root -}}
{{- if $part }}{{ $name = printf "%s-%s" $name $part }}{{ end -}}
{{- printf "%s%s" $name $root.Values.nameSuffix | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "vr.labels" -}}
app.kubernetes.io/name: {{ include "vr.base" . }}
app.kubernetes.io/part-of: vault
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "vr.image" -}}
{{- $img := .Values.image -}}
{{- if $img.digest -}}
{{ $img.repository }}@{{ $img.digest }}
{{- else -}}
{{ $img.repository }}:{{ $img.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The sides this release deploys, in order: export, import. */}}
{{- define "vr.sides" -}}
{{- $sides := list -}}
{{- if .Values.export.enabled }}{{ $sides = append $sides "export" }}{{ end -}}
{{- if .Values.import.enabled }}{{ $sides = append $sides "import" }}{{ end -}}
{{- if not $sides }}{{ fail "vault-replicator: set export.enabled, import.enabled, or both" }}{{ end -}}
{{- join "," $sides -}}
{{- end -}}
